package httpmatch

import (
	"sort"
	"time"
)

// Under load one URI has tens of thousands of exchanges within the decision
// delay (Hold), so every lookup the correlation makes is a time-window query
// on a list kept in time order, never a scan of the list.

// pendingQueue holds the exchanges waiting for their decision, in decision
// order: by heapAt (the response, or the request when none came), then
// connection and exchange index. Exchanges finish nearly in that order, so
// inserting from the back moves few records.
type pendingQueue struct {
	recs []*record
	head int
}

func pendingBefore(x, y *record) bool {
	if !x.heapAt.Equal(y.heapAt) {
		return x.heapAt.Before(y.heapAt)
	}
	if x.conn.id != y.conn.id {
		return x.conn.id < y.conn.id
	}
	return x.ex.Index < y.ex.Index
}

func (q *pendingQueue) len() int { return len(q.recs) - q.head }

func (q *pendingQueue) push(r *record) {
	q.recs = append(q.recs, r)
	for i := len(q.recs) - 1; i > q.head && pendingBefore(q.recs[i], q.recs[i-1]); i-- {
		q.recs[i], q.recs[i-1] = q.recs[i-1], q.recs[i]
	}
}

func (q *pendingQueue) peek() *record { return q.recs[q.head] }

func (q *pendingQueue) pop() *record {
	r := q.recs[q.head]
	q.recs[q.head] = nil
	q.head++
	if q.head >= 1024 && 2*q.head >= len(q.recs) {
		n := copy(q.recs, q.recs[q.head:])
		clear(q.recs[n:])
		q.recs, q.head = q.recs[:n], 0
	}
	return r
}

// window returns the waiting records with heapAt in [lo, hi].
func (q *pendingQueue) window(lo, hi time.Time) []*record {
	l := q.recs[q.head:]
	i := sort.Search(len(l), func(i int) bool { return !l[i].heapAt.Before(lo) })
	j := i + sort.Search(len(l)-i, func(k int) bool { return l[i+k].heapAt.After(hi) })
	return l[i:j]
}

// insertByStart adds r to l, which is kept in order of start time.
// Records arrive nearly in that order (an exchange is emitted when it
// finishes), so the insertion walks back a few places at most.
func insertByStart(l []*record, r *record) []*record {
	l = append(l, r)
	for i := len(l) - 1; i > 0 && l[i].start.Before(l[i-1].start); i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	return l
}

// byStart returns the records of l (in start order) that started in [lo, hi).
func byStart(l []*record, lo, hi time.Time) []*record {
	i := sort.Search(len(l), func(i int) bool { return !l[i].start.Before(lo) })
	j := i + sort.Search(len(l)-i, func(k int) bool { return !l[i+k].start.Before(hi) })
	return l[i:j]
}
