package httpmatch

import (
	"math"
	"sort"
	"time"

	"why502/flows"
	"why502/internal/timecmp"
)

// Under load one URI has tens of thousands of exchanges within the decision
// delay (Hold), so every lookup the correlation makes is a time-window query
// on a list kept in time order, never a scan of the list.

// pendingQueue holds the exchanges waiting for their decision, in decision
// order: by heapAt (the response, or the request when none came), then
// connection and exchange index. Exchanges finish nearly in that order, so
// inserting from the back moves few records.
type pendingQueue struct {
	recs []timed // ns is the record's heapNs
	head int
}

// timed is a record in a list kept in time order, with the time it is
// ordered by: a binary search of the list then reads contiguous memory
// instead of one record per probe (pprof: the searches of lists holding
// seconds of records were 10 % of analyze, in cache misses).
type timed struct {
	ns int64
	r  *record
}

func pendingBefore(x, y timed) bool {
	if x.ns != y.ns {
		return x.ns < y.ns
	}
	if x.r.conn.id != y.r.conn.id {
		return x.r.conn.id < y.r.conn.id
	}
	return exIndex(x.r) < exIndex(y.r)
}

func (q *pendingQueue) len() int { return len(q.recs) - q.head }

func (q *pendingQueue) push(r *record) {
	q.recs = append(q.recs, timed{r.heapNs, r})
	for i := len(q.recs) - 1; i > q.head && pendingBefore(q.recs[i], q.recs[i-1]); i-- {
		q.recs[i], q.recs[i-1] = q.recs[i-1], q.recs[i]
	}
}

// nextNs is the heapNs of the next record to decide; the queue is not
// empty. Read from the queue, not the record: once per packet (Advance).
func (q *pendingQueue) nextNs() int64 { return q.recs[q.head].ns }

func (q *pendingQueue) pop() *record {
	r := q.recs[q.head].r
	q.recs[q.head] = timed{}
	q.head++
	if q.head >= 1024 && 2*q.head >= len(q.recs) {
		n := copy(q.recs, q.recs[q.head:])
		clear(q.recs[n:])
		q.recs, q.head = q.recs[:n], 0
	}
	return r
}

// window returns the waiting records with heapNs in [lo, hi].
func (q *pendingQueue) window(lo, hi int64) []timed {
	return within(q.recs[q.head:], lo, hi)
}

// listOf returns the index's list for k, nil if none. A keep-alive
// connection mostly repeats its request, and its parser's strings are
// then the same, cheap to compare: cs's last list (connState.list)
// spares the map's hashing of the URI.
func (a *Analyzer) listOf(cs *connState, k reqKey) *recList {
	if l := cs.list; l != nil && !l.gone && l.key == k {
		return l
	}
	return a.index[k]
}

// insertByStart adds r to l, which is kept in order of start time.
// Records arrive nearly in that order (an exchange is emitted when it
// finishes), so the insertion walks back a few places at most.
func insertByStart(l []timed, r *record) []timed { return insertTimed(l, timed{r.startNs, r}) }

// insertTimed adds e to l, kept in time order, walking back from the end.
func insertTimed(l []timed, e timed) []timed {
	l = append(l, e)
	for i := len(l) - 1; i > 0 && l[i].ns < l[i-1].ns; i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	return l
}

// byStart returns the records of l (in start order) that started in [lo, hi).
func byStart(l []timed, lo, hi time.Time) []timed {
	return byStartNs(l, nanos(lo), nanos(hi))
}

// byStartNs is byStart in Unix nanoseconds.
func byStartNs(l []timed, lo, hi int64) []timed {
	i := searchTime(l, lo)
	j := i + searchTime(l[i:], hi)
	return l[i:j]
}

// searchTime returns the first index of l (in time order) whose time is t
// or later, len(l) if none: sort.Search without its closure calls, which
// showed in profiles.
func searchTime(l []timed, t int64) int {
	i, j := 0, len(l)
	for i < j {
		h := int(uint(i+j) >> 1)
		if l[h].ns < t {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// searchTimeFromEnd is searchTime for a t near the end of l: it gallops
// back from the end, so that it reads the few recent entries only.
func searchTimeFromEnd(l []timed, t int64) int {
	hi, step := len(l), 1
	for hi > 0 && l[hi-1].ns >= t {
		lo := max(0, hi-step)
		if l[lo].ns < t {
			return lo + searchTime(l[lo:hi], t)
		}
		hi, step = lo, 2*step
	}
	return hi
}

// searchTimeAfter returns the first index of l (in time order) whose time
// is after t, len(l) if none.
func searchTimeAfter(l []timed, t int64) int {
	if t == math.MaxInt64 {
		return len(l)
	}
	return searchTime(l, t+1)
}

// exIndex is a record's exchange index, -1 for a connect attempt.
func exIndex(r *record) int {
	if r.ex == nil {
		return -1
	}
	return int(r.ex.Index)
}

// insertByHeap adds r to l, kept in order of heapAt (the outcome time of
// decided attempts); decisions come in nearly that order.
func insertByHeap(l []timed, r *record) []timed { return insertTimed(l, timed{r.heapNs, r}) }

// byHeapAt returns the records of l (in heapAt order) with heapAt in [lo, hi].
func byHeapAt(l []timed, lo, hi time.Time) []timed {
	return within(l, nanos(lo), nanos(hi))
}

// within returns the entries of l (in time order) with times in [lo, hi].
func within(l []timed, lo, hi int64) []timed {
	i := searchTime(l, lo)
	j := i + searchTimeAfter(l[i:], hi)
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
//
// nanos is t in Unix nanoseconds, clamped to the int64 range
// (timecmp.Nanos).
func nanos(t time.Time) int64 { return timecmp.Nanos(t) }

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
