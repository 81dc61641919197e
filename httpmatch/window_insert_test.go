package httpmatch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestInsertTimed: insertTimed keeps a list in time order, each entry
// after those of the same time inserted before it, as a stable sort of
// the insertions would; times in order, late, equal, at the int64 ends.
func TestInsertTimed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][]int64{
		{1, 2, 3},
		{3, 2, 1},
		{5, 5, 4, 5, 4, 6, 1, 5},
		{math.MaxInt64, math.MinInt64, math.MaxInt64, 0, math.MinInt64},
	}
	for range 50 {
		var c []int64
		for range rng.IntN(300) {
			c = append(c, int64(rng.IntN(40)))
		}
		cases = append(cases, c)
	}
	for _, times := range cases {
		var l []timed
		recs := make([]record, len(times))
		for i, ns := range times {
			l = insertTimed(l, timed{ns, &recs[i]})
		}
		want := make([]timed, len(times))
		for i, ns := range times {
			want[i] = timed{ns, &recs[i]}
		}
		slices.SortStableFunc(want, func(x, y timed) int {
			switch {
			case x.ns < y.ns:
				return -1
			case x.ns > y.ns:
				return 1
			}
			return 0
		})
		if !slices.Equal(l, want) {
			t.Fatalf("times %v: insertion order differs from a stable sort", times)
		}
	}
}
