package httpmatch

import (
	"math"
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
// and for the incidents. Under load the exchanges of a second or more
// wait for their decision: the whole Exchange (its ends, lengths,
// framing) would double their memory, and each byte of a record is
// allocated, written by the parsing goroutine and read by the matching
// one. So the times are kept as Unix nanoseconds (nanos), the frames
// without them (reqStart, respStart), and the record fits Go's 256-byte
// size class: 352 with time.Times. (On 100 MB of small keep-alive
// requests, a record padded by 96 bytes made analyze 14 % slower, its
// live heap nearing the collector's budget.)
type keptExchange struct {
	// status is the response's (0 when no status line came).
	status int
	// Index is the exchange's on its connection (Exchange.Index, at most
	// MaxInt32).
	Index               int32
	reqFlags, respFlags Flags
	// In Unix nanoseconds: the request's start (zeroTimeNs when missing),
	// and, when a status came, the response's start and its header's end
	// (headerTime); 0 when none did.
	reqNs, respNs, hdrNs int64
	// far holds the three times when nanoseconds cannot (exactTimes).
	far      *exactTimes
	Request  keptRequest
	Response keptResponse
}

type keptRequest struct {
	File        string // of the request's first frame
	Frame       int64
	Method, URI string
	Host        string
}

type keptResponse struct {
	File                    string // of the response's first frame
	Frame                   int64
	Reason, Server, Preview string
}

// exactTimes are an exchange's request start, response start and header
// end as the capture has them, kept when one of them would not come back
// the same from nanoseconds: outside nanos' exact range (a corrupt
// timestamp), in a location other than UTC (capture times are UTC), or
// a response's start without a status line.
type exactTimes [3]time.Time

// zeroTimeNs stands for the zero time.Time (a missing request's start).
const zeroTimeNs = math.MinInt64

// keep fills k from e, in place: k is in a new record on the heap, and
// building the keptExchange aside and copying it in was a third of
// newExchange (pprof).
func (k *keptExchange) keep(e *Exchange) {
	q, r := &e.Request, &e.Response
	k.Index = int32(min(e.Index, math.MaxInt32))
	k.reqFlags, k.respFlags = q.Flags, r.Flags
	k.Request.File, k.Request.Frame = q.Start.File, q.Start.Frame
	k.Request.Method, k.Request.URI, k.Request.Host = q.Method, q.URI, q.Host
	kr := &k.Response
	kr.File, kr.Frame = r.Start.File, r.Start.Frame
	kr.Reason, kr.Server, kr.Preview = r.Reason, r.Server, r.Preview
	hdr := headerTime(r)
	var ok1, ok2, ok3 bool
	k.reqNs, ok1 = exactNanos(q.Start.Time)
	if r.Status != 0 {
		k.status = r.Status
		k.respNs, ok2 = exactNanos(r.Start.Time)
		k.hdrNs, ok3 = exactNanos(hdr)
	} else {
		ok2, ok3 = r.Start.Time.IsZero(), hdr.IsZero()
	}
	if !ok1 || !ok2 || !ok3 {
		k.far = &exactTimes{q.Start.Time, r.Start.Time, hdr}
	}
}

// exactNanos is t in Unix nanoseconds (zeroTimeNs for the zero time),
// and whether unixTime gives t back.
func exactNanos(t time.Time) (int64, bool) {
	// timecmp.Nanos's fast path, inlined: three of these per exchange,
	// in the goroutine that parses, and calling nanos instead cost 0.6 %
	// of analyze's instructions (cachegrind). One test of the seconds
	// also rules out the zero time.
	if s := t.Unix(); s > -9e9 && s < 9e9 {
		return s*1e9 + int64(t.Nanosecond()), t.Location() == time.UTC
	}
	if t.IsZero() {
		return zeroTimeNs, true
	}
	return nanos(t), false
}

// unixTime is the UTC time of ns (exactNanos).
func unixTime(ns int64) time.Time {
	if ns == zeroTimeNs {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// reqTime is the request's start, the zero time when it is missing.
func (k *keptExchange) reqTime() time.Time {
	if k.far != nil {
		return k.far[0]
	}
	return unixTime(k.reqNs)
}

// respTime is the response's start, the zero time when none came.
func (k *keptExchange) respTime() time.Time { return k.answerTime(k.respNs, 1) }

// hdrTime is the response's header end (headerTime).
func (k *keptExchange) hdrTime() time.Time { return k.answerTime(k.hdrNs, 2) }

// answerTime is the response's time ns, exactTimes[i].
func (k *keptExchange) answerTime(ns int64, i int) time.Time {
	switch {
	case k.far != nil:
		return k.far[i]
	case k.status == 0:
		return time.Time{}
	}
	return unixTime(ns)
}

// reqStart is the request's first frame.
func (k *keptExchange) reqStart() flows.FrameRef {
	return flows.FrameRef{File: k.Request.File, Frame: k.Request.Frame, Time: k.reqTime()}
}

// respStart is the response's first frame.
func (k *keptExchange) respStart() flows.FrameRef {
	return flows.FrameRef{File: k.Response.File, Frame: k.Response.Frame, Time: k.respTime()}
}

// durNs is the response's wait, in nanoseconds: from the request's start
// to the response's; 0 when either is missing.
func (k *keptExchange) durNs() int64 {
	if k.status == 0 || k.reqNs == zeroTimeNs {
		return 0
	}
	return subNs(k.respNs, k.reqNs)
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
	if missing {
		r.orphan, r.startNs = true, x.kept.respNs
		return x
	}
	r.startNs = x.kept.reqNs // nanos(q.Start.Time)
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
		return r.ex.respTime()
	}
	return r.ex.reqTime()
}

// setHeap sets the time the record is decided from.
func (r *record) setHeap(t time.Time) { r.setHeapNs(nanos(t)) }

// setHeapNs is setHeap in Unix nanoseconds.
func (r *record) setHeapNs(ns int64) { r.heapNs, r.heaped = ns, true }
