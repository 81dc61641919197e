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
	HeaderEnd               struct{ Time time.Time } // the time of Response.HeaderEnd
	Status                  int
	Flags                   Flags
	Reason, Server, Preview string
}

func keepExchange(e *Exchange) keptExchange {
	k := keptExchange{Index: e.Index}
	q, r := &e.Request, &e.Response
	k.Request = keptRequest{Start: q.Start, Method: q.Method, URI: q.URI, Host: q.Host, Flags: q.Flags}
	k.Response = keptResponse{Start: r.Start, Status: r.Status, Flags: r.Flags, Reason: r.Reason, Server: r.Server, Preview: r.Preview}
	k.Response.HeaderEnd.Time = r.HeaderEnd.Time
	return k
}

// newAttempt makes the record of cs's connect attempt, its SYN at first.
func (a *Analyzer) newAttempt(cs *connState, first time.Time) *record {
	cs.first = first
	r := a.record(cs, first)
	return &r
}

// record makes the record of an exchange that started at start (its
// kept Request.Start, or Response.Start for an orphan), or of a connect
// attempt (newAttempt).
func (a *Analyzer) record(cs *connState, start time.Time) record {
	return record{conn: cs, startNs: nanos(start), addedNs: a.nowNs}
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
func (r *record) setHeap(t time.Time) {
	r.heapNs, r.heaped = nanos(t), true
}
