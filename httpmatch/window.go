package httpmatch

import (
	"math"
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
	if x.heapNs != y.heapNs {
		return x.heapNs < y.heapNs
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

// window returns the waiting records with heapNs in [lo, hi].
func (q *pendingQueue) window(lo, hi int64) []*record {
	l := q.recs[q.head:]
	i := searchHeap(l, lo)
	j := i + searchHeapAfter(l[i:], hi)
	return l[i:j]
}

// insertByStart adds r to l, which is kept in order of start time.
// Records arrive nearly in that order (an exchange is emitted when it
// finishes), so the insertion walks back a few places at most.
func insertByStart(l []*record, r *record) []*record {
	l = append(l, r)
	for i := len(l) - 1; i > 0 && l[i].startNs < l[i-1].startNs; i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	return l
}

// byStart returns the records of l (in start order) that started in [lo, hi).
func byStart(l []*record, lo, hi time.Time) []*record {
	return byStartNs(l, nanos(lo), nanos(hi))
}

// byStartNs is byStart in Unix nanoseconds.
func byStartNs(l []*record, lo, hi int64) []*record {
	i := searchStart(l, lo)
	j := i + searchStart(l[i:], hi)
	return l[i:j]
}

// searchStart returns the first index of l (in start order) whose startNs
// is t or later, len(l) if none: sort.Search without its closure calls,
// which showed in profiles.
func searchStart(l []*record, t int64) int {
	i, j := 0, len(l)
	for i < j {
		h := int(uint(i+j) >> 1)
		if l[h].startNs < t {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// searchHeap is searchStart for lists in heapNs order.
func searchHeap(l []*record, t int64) int {
	i, j := 0, len(l)
	for i < j {
		h := int(uint(i+j) >> 1)
		if l[h].heapNs < t {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// searchHeapAfter returns the first index of l (in heapNs order) whose
// heapNs is after t, len(l) if none.
func searchHeapAfter(l []*record, t int64) int {
	i, j := 0, len(l)
	for i < j {
		h := int(uint(i+j) >> 1)
		if l[h].heapNs <= t {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
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
	for i := len(l) - 1; i > 0 && l[i].heapNs < l[i-1].heapNs; i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	return l
}

// byHeapAt returns the records of l (in heapAt order) with heapAt in [lo, hi].
func byHeapAt(l []*record, lo, hi time.Time) []*record {
	loN, hiN := nanos(lo), nanos(hi)
	i := searchHeap(l, loN)
	j := i + searchHeapAfter(l[i:], hiN)
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

// Capture times are compared as Unix nanoseconds on the hot paths.
// time.Time cannot overflow where int64 nanoseconds do (before 1678, after
// 2262: only a broken capture clock gets there), so nanos clamps such
// times to the ends of the range; they keep their order with every
// representable time, and subNs saturates as time.Time.Sub does.
var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// nanos is t in Unix nanoseconds, clamped to the int64 range.
func nanos(t time.Time) int64 {
	if t.Before(minNanos) {
		return math.MinInt64
	}
	if t.After(maxNanos) {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// subNs is x - y, saturated at the ends of the int64 range.
func subNs(x, y int64) int64 {
	d := x - y
	if (d < x) != (y > 0) {
		if y > 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return d
}
