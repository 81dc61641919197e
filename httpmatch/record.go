package httpmatch

import (
	"time"

	"why502/flows"
)

// exchangeRecord is the record of an exchange and what it keeps of it, in
// one allocation; connect attempts (a SYN flood makes millions) are bare
// records.
type exchangeRecord struct {
	record
	kept keptExchange
}

// keptExchange is what the analyzer keeps of an Exchange for matching
// and for the incidents: the fields it reads, under the same names. Under
// load the exchanges of several seconds wait for their decision, and the
// whole Exchange (its ends, lengths, framing) would double their memory.
type keptExchange struct {
	// What the matching compares most, first: the status (0 when no
	// response came), and in Unix nanoseconds (nanos) the response's
	// start, its header's end (headerTime) and its wait (respNs minus
	// the request's start), set when a response came.
	status               int
	respNs, hdrNs, durNs int64

	Index    int
	Request  keptRequest
	Response keptResponse
}

type keptRequest struct {
	Start       flows.FrameRef
	Method, URI string
	Host        string
	Flags       Flags
}

type keptResponse struct {
	Start                   flows.FrameRef
	HeaderTime              time.Time // headerTime of the response
	Status                  int
	Flags                   Flags
	Reason, Server, Preview string
}

// keep fills k from e, in place: k is in a new record on the heap, and
// building the keptExchange aside and copying it in was a third of
// newExchange (pprof).
func (k *keptExchange) keep(e *Exchange) {
	q, r := &e.Request, &e.Response
	k.Index = e.Index
	k.Request.Start, k.Request.Method, k.Request.URI, k.Request.Host, k.Request.Flags = q.Start, q.Method, q.URI, q.Host, q.Flags
	kr := &k.Response
	kr.Start, kr.Status, kr.Flags = r.Start, r.Status, r.Flags
	kr.Reason, kr.Server, kr.Preview = r.Reason, r.Server, r.Preview
	kr.HeaderTime = headerTime(r)
}

// newExchange makes the record of a finished exchange (frontSink, in the
// parsing goroutine): all of it that does not depend on other
// connections. lastEnd is the end of the connection's previous exchange,
// for idle times, and is updated.
// It returns nil for a response without its request below 500: nothing
// to match it with, nothing to report.
func newExchange(e *Exchange, lastEnd *time.Time) *exchangeRecord {
	q, resp := &e.Request, &e.Response
	missing := q.Flags&Missing != 0
	if missing && resp.Status < 500 {
		return nil
	}
	x := new(exchangeRecord)
	x.kept.keep(e)
	r := &x.record
	r.ex = &x.kept
	if resp.Status != 0 {
		x.kept.status = resp.Status
		x.kept.respNs = nanos(resp.Start.Time)
		x.kept.hdrNs = nanos(x.kept.Response.HeaderTime)
	}
	if missing {
		r.orphan, r.startNs = true, x.kept.respNs
		return x
	}
	r.startNs = nanos(q.Start.Time)
	if resp.Status != 0 {
		x.kept.durNs = subNs(x.kept.respNs, r.startNs)
	}
	if e.Index > 0 && !lastEnd.IsZero() {
		r.idle = max(0, q.Start.Time.Sub(*lastEnd))
	}
	*lastEnd = q.End.Time
	if resp.End.Time.After(*lastEnd) {
		*lastEnd = resp.End.Time
	}
	return x
}

// newAttempt makes the record of cs's connect attempt, its SYN at first.
func (a *Analyzer) newAttempt(cs *connState, first time.Time) *record {
	cs.first = first
	return &record{conn: cs, startNs: nanos(first), addedNs: a.nowNs}
}

// startTime is the time of the request (or SYN): startNs as the capture
// has it, in its location.
func (r *record) startTime() time.Time {
	switch {
	case r.ex == nil:
		return r.conn.first
	case r.orphan:
		return r.ex.Response.Start.Time
	}
	return r.ex.Request.Start.Time
}

// setHeap sets the time the record is decided from.
func (r *record) setHeap(t time.Time) { r.setHeapNs(nanos(t)) }

// setHeapNs is setHeap in Unix nanoseconds.
func (r *record) setHeapNs(ns int64) { r.heapNs, r.heaped = ns, true }
