package httpmatch

// connIndex maps connection IDs to their state: a map, with a
// direct-mapped cache in front of it. The tracker numbers connections in
// the order they start, so the connections active at once have nearby
// IDs and rarely share a slot; a hit costs an index and a compare instead
// of hashing (perf, 100 MB of small keep-alive requests: the map lookups
// of Front.Data and Analyzer.Apply, one per packet or exchange, were 2 %
// of analyze's CPU).
type connIndex[T any] struct {
	m     map[uint64]*T
	cache [connCacheSlots]connSlot[T]
}

// connCacheSlots is the cache's size, a power of two.
const connCacheSlots = 512

type connSlot[T any] struct {
	id uint64 // 0: empty (the tracker's IDs start at 1)
	v  *T
}

func newConnIndex[T any]() *connIndex[T] {
	return &connIndex[T]{m: map[uint64]*T{}}
}

// get returns id's state, nil if none.
func (x *connIndex[T]) get(id uint64) *T {
	s := &x.cache[id&(connCacheSlots-1)]
	if s.id == id && id != 0 {
		return s.v
	}
	v := x.m[id]
	if v != nil {
		*s = connSlot[T]{id, v}
	}
	return v
}

// set makes v id's state.
func (x *connIndex[T]) set(id uint64, v *T) {
	x.m[id] = v
	x.cache[id&(connCacheSlots-1)] = connSlot[T]{id, v}
}

// del forgets id.
func (x *connIndex[T]) del(id uint64) {
	delete(x.m, id)
	if s := &x.cache[id&(connCacheSlots-1)]; s.id == id {
		*s = connSlot[T]{}
	}
}
