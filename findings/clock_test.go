package findings

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"why502/flows"
	"why502/internal/timecmp"
)

// TestClockSameAsTime: the Collector's clock is the latest time it was
// given, as time.Time orders them, the first given of equal ones, for
// times out of int64 nanoseconds' range too (the clock compares
// nanoseconds, and skips a time equal to its own).
func TestClockSameAsTime(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC)
	cet := time.FixedZone("CET", 3600)
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) // beyond int64 nanoseconds
	times := []time.Time{
		{}, base, base, base.In(cet), base.Add(-1), base.Add(1), base.Add(1).In(cet),
		time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), far, far.Add(-1), far, far.Add(1), far.In(cet),
		time.Unix(0, math.MaxInt64), time.Unix(0, math.MaxInt64).Add(1),
		time.Date(300000, 1, 1, 0, 0, 0, 0, cet), time.Date(300000, 1, 1, 1, 0, 0, 0, time.UTC),
		time.Unix(math.MaxInt64-1, 0), // its time.Time seconds wrap: before everything
	}
	c := New(Options{})
	var want time.Time
	for i, tm := range times {
		c.clock(tm)
		if tm.After(want) {
			want = tm
		}
		if c.now != want || c.nowNs != timecmp.Nanos(want) {
			t.Errorf("after %d: %v: clock %v (%d ns), want %v (%d ns)", i, tm, c.now, c.nowNs, want, timecmp.Nanos(want))
		}
	}
}

// TestAdvanceCuts drives connect attempts through Advance at their cut
// times (ConnectTimeout, then Reorder after the SYN) and a nanosecond
// before, also where the times do not fit in int64 nanoseconds (clamped:
// time.Time decides) or cross that range's end.
func TestAdvanceCuts(t *testing.T) {
	opts := Options{ConnectTimeout: 3 * time.Second, Reorder: 4 * time.Second}
	steps := []struct {
		at                   time.Duration
		pending, events, use int // attempts pending, events waiting, events used
	}{
		{0, 1, 0, 0},
		{3*time.Second - 1, 1, 0, 0},
		{3 * time.Second, 0, 1, 0},
		{4*time.Second - 1, 0, 1, 0},
		{4 * time.Second, 0, 0, 1},
	}
	tests := []struct {
		name string
		syn  time.Time
	}{
		{"2026", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"before 1970", time.Date(1960, 3, 1, 12, 0, 0, 999999999, time.UTC)},
		{"after 2262", time.Date(2300, 3, 1, 12, 0, 0, 7, time.UTC)},
		{"before 1678", time.Date(1500, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"crossing the end of int64 nanoseconds", time.Unix(0, math.MaxInt64).Add(-3500 * time.Millisecond)},
		{"crossing the start of int64 nanoseconds", time.Unix(0, math.MinInt64).Add(-3500 * time.Millisecond)},
	}
	up := netip.MustParseAddrPort("10.0.0.7:8080")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(opts)
			c.start(&flows.Conn{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: up,
				Handshake: flows.Unanswered, SYNs: 1, First: flows.FrameRef{Frame: 1, Time: tc.syn}, Last: tc.syn})
			for _, st := range steps {
				c.Advance(tc.syn.Add(st.at))
				used := 0
				if s := c.servers[up]; s != nil {
					used = s.failures
				}
				if len(c.pending) != st.pending || len(c.events) != st.events || used != st.use {
					t.Errorf("at %v: pending %d, waiting %d, used %d; want %d, %d, %d",
						st.at, len(c.pending), len(c.events), used, st.pending, st.events, st.use)
				}
			}
		})
	}
}

// TestBucketCache: bucket's answer is always the timeline's bin of its
// second, whichever of its last answers it found it among: bins' edges,
// two upstreams alternating, seconds before 1970, wider bins, seconds
// too far apart for their difference to fit in an int64.
func TestBucketCache(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.7:8080")
	b := netip.MustParseAddrPort("10.0.0.8:8080")
	type call struct {
		up  netip.AddrPort
		sec int64
	}
	tests := []struct {
		name    string
		binSecs int64
		calls   []call
	}{
		{"one second", 1, []call{
			{a, 100}, {b, 100}, {a, 100}, {b, 100}, {a, 101}, {b, 100}, {a, 100}, {b, 101}, {b, 99}, {a, 99},
		}},
		{"four seconds", 4, []call{
			{a, 100}, {a, 103}, {a, 104}, {b, 103}, {a, 99}, {b, 100}, {a, 107}, {a, 108}, {b, 96}, {b, 95},
		}},
		{"before 1970", 4, []call{
			{a, -1}, {a, -4}, {a, -5}, {b, 0}, {a, -1}, {b, -1}, {a, 3}, {a, -8}, {a, -9},
		}},
		{"far apart", 1, []call{
			{a, math.MinInt64 + 1}, {a, math.MaxInt64 - 1}, {a, math.MinInt64 + 1}, {b, math.MaxInt64},
			{b, math.MinInt64}, {a, math.MaxInt64 - 1}, {b, math.MaxInt64},
		}},
		{"far apart, four seconds", 4, []call{
			{a, math.MinInt64}, {a, math.MaxInt64 - 3}, {a, math.MinInt64 + 3}, {a, math.MinInt64 + 4},
			{a, math.MaxInt64}, {a, math.MaxInt64 - 4}, {a, -1}, {a, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{})
			c.binSecs = tc.binSecs
			for i, cl := range tc.calls {
				got := c.bucket(cl.up, time.Unix(cl.sec, 0))
				want := c.timeline[cl.up][floorDiv(cl.sec, tc.binSecs)*tc.binSecs]
				if want == nil || got != want {
					t.Fatalf("call %d (%v, second %d): not the bin of its second", i, cl.up, cl.sec)
				}
				got.Requests++
			}
		})
	}
}
