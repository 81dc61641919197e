package httpmatch

import "testing"

// TestConnIndex checks the cache never answers for another ID: IDs that
// share a slot, deletes of cached and uncached IDs.
func TestConnIndex(t *testing.T) {
	type op struct {
		do   byte // 's'et, 'd'elete, 'g'et
		id   uint64
		want int // for get: the value set, 0 for none
	}
	const n = connCacheSlots
	tests := []struct {
		name string
		ops  []op
	}{
		{"set and get", []op{{'s', 1, 0}, {'g', 1, 1}, {'g', 2, 0}}},
		{"two IDs in one slot", []op{{'s', 1, 0}, {'s', 1 + n, 0}, {'g', 1, 1}, {'g', 1 + n, 1 + n}, {'g', 1, 1}}},
		{"delete the cached one", []op{{'s', 1, 0}, {'s', 1 + n, 0}, {'d', 1 + n, 0}, {'g', 1 + n, 0}, {'g', 1, 1}}},
		{"delete the uncached one", []op{{'s', 1, 0}, {'s', 1 + n, 0}, {'d', 1, 0}, {'g', 1, 0}, {'g', 1 + n, 1 + n}}},
		{"ID 0 is never cached", []op{{'g', 0, 0}, {'s', n, 0}, {'g', 0, 0}, {'g', n, n}}},
		{"set again replaces", []op{{'s', 5, 0}, {'d', 5, 0}, {'g', 5, 0}, {'s', 5, 0}, {'g', 5, 5}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newConnIndex[int]()
			for i, o := range tc.ops {
				switch o.do {
				case 's':
					v := int(o.id)
					x.set(o.id, &v)
				case 'd':
					x.del(o.id)
				case 'g':
					got := 0
					if p := x.get(o.id); p != nil {
						got = *p
					}
					if got != o.want {
						t.Fatalf("op %d: get(%d) = %d, want %d", i, o.id, got, o.want)
					}
				}
			}
		})
	}
}
