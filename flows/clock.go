package flows

import (
	"math"
	"time"
)

// Capture time is compared and subtracted at every packet (expiry, idle
// times), and time.Time's After, Add and Sub were a quarter of a packet's
// cost. So beside each time.Time it reasons with, the tracker keeps that
// time in nanoseconds since 1970 and does integer arithmetic. That is
// exact within 2^62 ns (146 years) of 1970, where no difference
// overflows; a capture time beyond (a corrupt timestamp) sets
// Tracker.wide, and time.Time arithmetic is used from then on, so results
// never depend on the shortcut.

// nanos is tm in nanoseconds since 1970; for a time too far from 1970 it
// sets t.wide instead, and its result means nothing.
func (t *Tracker) nanos(tm time.Time) int64 {
	s := tm.Unix()
	if s < -maxNanosSec || s > maxNanosSec {
		t.wide = true
		return 0
	}
	return s*1e9 + int64(tm.Nanosecond())
}

// maxNanosSec bounds the seconds of a time nanos takes: its nanoseconds
// are then within ±2^62, and the difference of two within ±2^63.
const maxNanosSec = (1<<62)/int64(time.Second) - 1

// zeroNanos stands for the zero time.Time, earlier than any time nanos
// gives.
const zeroNanos = math.MinInt64

// after reports whether a (aNs in nanoseconds) is after b (bNs).
func (t *Tracker) after(a time.Time, aNs int64, b time.Time, bNs int64) bool {
	if t.wide {
		return a.After(b)
	}
	return aNs > bNs
}

// idleFor reports whether c has seen no packet for d or longer.
func (t *Tracker) idleFor(c *conn, d time.Duration) bool {
	if t.wide {
		return t.idleForWide(c, d) // out of line: idleFor is inlined
	}
	return t.nowNs-c.lastNs >= int64(d)
}

func (t *Tracker) idleForWide(c *conn, d time.Duration) bool {
	return !t.now.Before(c.Last.Add(d))
}
