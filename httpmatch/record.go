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

// newRecord makes the record of an exchange or connect attempt that
// started at start.
func (a *Analyzer) newRecord(cs *connState, start time.Time) *record {
	r := a.record(cs, start)
	return &r
}

func (a *Analyzer) record(cs *connState, start time.Time) record {
	return record{conn: cs, start: start, startNs: nanos(start), addedNs: a.nowNs}
}

// setHeap sets the time the record is decided from.
func (r *record) setHeap(t time.Time) {
	r.heapAt, r.heapNs = t, nanos(t)
}
