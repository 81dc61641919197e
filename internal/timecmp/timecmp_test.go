package timecmp

import (
	"math"
	"testing"
	"time"
)

// TestAfterSameAsTime compares After with time.Time's on every pair of a
// set of times: equal instants in other locations, one nanosecond apart,
// before 1970, at and beyond the ends of int64 nanoseconds, the zero time.
func TestAfterSameAsTime(t *testing.T) {
	base := time.Date(2026, 11, 26, 22, 33, 7, 999999999, time.UTC)
	cet := time.FixedZone("CET", 3600)
	times := []time.Time{
		{}, base, base.Add(1), base.Add(-1), base.In(cet), base.Add(time.Second),
		time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC), time.Unix(0, 0),
		time.Unix(0, math.MinInt64), time.Unix(0, math.MinInt64).Add(-1), time.Unix(0, math.MinInt64).Add(1),
		time.Unix(0, math.MaxInt64), time.Unix(0, math.MaxInt64).Add(1), time.Unix(9e9, 0), time.Unix(-9e9, 0),
		time.Date(-5000, 1, 1, 0, 0, 0, 3, time.UTC), time.Date(300000, 1, 1, 0, 0, 0, 0, cet),
	}
	for _, x := range times {
		for _, y := range times {
			if got, want := After(&x, Nanos(x), &y, Nanos(y)), x.After(y); got != want {
				t.Errorf("After(%v, %v) = %v, want %v", x, y, got, want)
			}
		}
	}
}

// TestNanos: exact within the int64 range, clamped outside it.
func TestNanos(t *testing.T) {
	tests := []struct {
		t     time.Time
		want  int64
		exact bool
	}{
		{time.Unix(1, 5), 1e9 + 5, true},
		{time.Unix(-1, 0), -1e9, true},
		{time.Unix(9.2e9, 0), 9.2e18, true},
		{time.Unix(0, math.MaxInt64).Add(1), math.MaxInt64, false},
		{time.Unix(0, math.MinInt64).Add(-1), math.MinInt64, false},
		{time.Time{}, math.MinInt64, false},
	}
	for _, tc := range tests {
		got := Nanos(tc.t)
		if got != tc.want || Exact(got) != tc.exact {
			t.Errorf("Nanos(%v) = %d (exact %v), want %d (exact %v)", tc.t, got, Exact(got), tc.want, tc.exact)
		}
	}
}
