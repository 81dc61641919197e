// Package timecmp keeps capture times as Unix nanoseconds beside their
// time.Time, for the comparisons the analysis makes several times per
// packet: time.Time's After and Before are calls the compiler does not
// inline, and an int64 comparison is one instruction (cachegrind, 100 MB
// of small keep-alive requests: After and Before were 3.7 % of analyze's
// instructions). time.Time cannot overflow where int64 nanoseconds do
// (before 1678, after 2262: only a broken capture clock gets there), so
// Nanos clamps such times to the ends of the range, which keeps their
// order, and After's answers are always time.Time's.
package timecmp

import (
	"math"
	"time"
)

var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// Nanos is t in Unix nanoseconds, clamped to the int64 range.
func Nanos(t time.Time) int64 {
	// Capture times are nearly always well inside the range: one
	// comparison of seconds instead of two of times (pprof: nanos was
	// 1 % of analyze, four calls per exchange), and the nanoseconds from
	// those seconds, which UnixNano would compute again.
	if s := t.Unix(); s > -9e9 && s < 9e9 {
		return s*1e9 + int64(t.Nanosecond())
	}
	if t.Before(minNanos) {
		return math.MinInt64
	}
	if t.After(maxNanos) {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Exact reports whether ns, from Nanos, is its time exactly: not clamped.
func Exact(ns int64) bool { return ns != math.MinInt64 && ns != math.MaxInt64 }

// After reports whether *t is after *u, given tNs = Nanos(*t) and uNs =
// Nanos(*u): t.After(*u). Clamping keeps the order, so nanoseconds that
// differ decide; equal ones decide too unless clamped (two broken times
// at the same end), where time.Time compares.
func After(t *time.Time, tNs int64, u *time.Time, uNs int64) bool {
	// Exact(tNs) in one comparison: MinInt64 and MaxInt64 are the two
	// values that wrap around here.
	if tNs != uNs || uint64(tNs)^(1<<63)-1 < math.MaxUint64-1 {
		return tNs > uNs
	}
	return after(t, u)
}

// after is out of line so that After, which calls it for broken times
// only, stays small enough to be inlined.
//
//go:noinline
func after(t, u *time.Time) bool { return t.After(*u) }
