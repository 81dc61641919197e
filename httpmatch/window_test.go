package httpmatch

import (
	"math"
	"testing"
	"time"
)

// nanos is UnixNano inside the int64 range and clamps outside it, on both
// sides of its fast path's bound (9e9 s from 1970).
func TestNanos(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    time.Time
		want int64
	}{
		{"capture time", time.Date(2026, 11, 26, 17, 0, 0, 123, time.UTC), time.Date(2026, 11, 26, 17, 0, 0, 123, time.UTC).UnixNano()},
		{"epoch", time.Unix(0, 0), 0},
		{"before 1970", time.Unix(-5, 7), -5e9 + 7},
		{"just inside the fast path", time.Unix(9e9-1, 0), (9e9 - 1) * 1e9},
		{"past it, still in range", time.Unix(9.2e9, 0), 9.2e9 * 1e9},
		{"largest", time.Unix(0, math.MaxInt64), math.MaxInt64},
		{"beyond 2262", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{"before 1678", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), math.MinInt64},
		{"zero time", time.Time{}, math.MinInt64},
	} {
		if got := nanos(tc.t); got != tc.want {
			t.Errorf("%s: nanos(%v)\n- want: %d\n-  got: %d", tc.name, tc.t, tc.want, got)
		}
	}
}
