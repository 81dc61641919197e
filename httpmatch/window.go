package httpmatch

import (
	"sort"
	"time"

	"why502/flows"
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
	return exIndex(x) < exIndex(y)
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

// exIndex is a record's exchange index, -1 for a connect attempt.
func exIndex(r *record) int {
	if r.ex == nil {
		return -1
	}
	return r.ex.Index
}

// insertByHeap adds r to l, kept in order of heapAt (the outcome time of
// decided attempts); decisions come in nearly that order.
func insertByHeap(l []*record, r *record) []*record {
	l = append(l, r)
	for i := len(l) - 1; i > 0 && l[i].heapAt.Before(l[i-1].heapAt); i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	return l
}

// byHeapAt returns the records of l (in heapAt order) with heapAt in [lo, hi].
func byHeapAt(l []*record, lo, hi time.Time) []*record {
	i := sort.Search(len(l), func(i int) bool { return !l[i].heapAt.Before(lo) })
	j := i + sort.Search(len(l)-i, func(k int) bool { return l[i+k].heapAt.After(hi) })
	return l[i:j]
}

// frontEvent is one chunk of a TLS front connection's traffic.
type frontEvent struct {
	conn     *connState
	at       flows.FrameRef
	toClient bool
}

// frontWindow returns the events of l (in time order) in [lo, hi].
func frontWindow(l []frontEvent, lo, hi time.Time) []frontEvent {
	i := sort.Search(len(l), func(i int) bool { return !l[i].at.Time.Before(lo) })
	j := i + sort.Search(len(l)-i, func(k int) bool { return l[i+k].at.Time.After(hi) })
	return l[i:j]
}

// pruneFrontData drops the front traffic from before limit.
func (a *Analyzer) pruneFrontData(limit time.Time) {
	i := sort.Search(len(a.frontData), func(i int) bool { return !a.frontData[i].at.Time.Before(limit) })
	if i == 0 {
		return
	}
	n := copy(a.frontData, a.frontData[i:])
	clear(a.frontData[n:])
	a.frontData = a.frontData[:n]
}
