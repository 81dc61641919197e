package flows

import "container/heap"

// startOrder holds finished connections until every connection that
// started before them has finished, so that Done sees IDs 1, 2, 3...
// IDs are dense and every started connection eventually finishes (Flush
// at the latest), so the wait always ends.
type startOrder struct {
	next uint64 // the ID to deliver next
	held connHeap
}

func (o *startOrder) done(c *conn, h Handler) {
	if c.ID != o.next {
		heap.Push(&o.held, c)
		return
	}
	h.Done(&c.Conn)
	o.next++
	for len(o.held) > 0 && o.held[0].ID == o.next {
		h.Done(&heap.Pop(&o.held).(*conn).Conn)
		o.next++
	}
}

type connHeap []*conn

func (h connHeap) Len() int           { return len(h) }
func (h connHeap) Less(i, j int) bool { return h[i].ID < h[j].ID }
func (h connHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *connHeap) Push(x any)        { *h = append(*h, x.(*conn)) }
func (h *connHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}
