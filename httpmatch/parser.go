package httpmatch

import "why502/flows"

// ParserOptions bound what a ConnParser keeps.
type ParserOptions struct {
	// MaxHeaderBytes bounds a start line plus header block, and a trailer
	// section; longer ones are flagged TooLarge. Default 64 KiB, at least 1 KiB.
	MaxHeaderBytes int
	// MaxPending bounds the exchanges held while waiting for their response
	// (pipelining) or for their request to end. Beyond it the oldest is
	// emitted as it stands. Default 128.
	MaxPending int
	// Midstream: the capture began after the connection did, so neither
	// direction starts at a message boundary; both begin by resynchronizing.
	Midstream bool
}

func (o ParserOptions) withDefaults() ParserOptions {
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	o.MaxHeaderBytes = max(o.MaxHeaderBytes, 1<<10)
	if o.MaxPending <= 0 {
		o.MaxPending = 128
	}
	return o
}

// ExchangeSink receives a connection's exchanges, in order. e is valid
// during the call only: it is the parser's, reused (an Exchange is over
// 500 bytes, and copying it on each call showed in profiles).
type ExchangeSink interface {
	Exchange(e *Exchange)
}

// SinkFunc adapts a function to an ExchangeSink.
type SinkFunc func(e *Exchange)

// Exchange calls f(e).
func (f SinkFunc) Exchange(e *Exchange) { f(e) }

// ParserStats counts what a ConnParser saw, per flows.Dir where indexed.
type ParserStats struct {
	Exchanges int64
	Skipped   [2]int64 // unparseable bytes skipped while resynchronizing
	GapBytes  [2]int64
	Tunneled  [2]int64 // bytes after CONNECT 2xx or 101, not parsed
}

// ConnParser parses the HTTP/1.x exchanges of one TCP connection, both
// directions. It is not safe for concurrent use; a connection's events come
// from one goroutine anyway.
type ConnParser struct {
	opts ParserOptions
	sink ExchangeSink
	h    [2]half

	// q holds exchanges not yet emitted, q[qh:] in order; the one at q[qh]
	// has sequence number headSeq (its Index), and they are contiguous up
	// to reqSeq-1. respSeq is the exchange the next response byte belongs to.
	q       []entry
	qh      int
	headSeq uint64
	reqSeq  uint64
	respSeq uint64

	scratch Exchange // written to when a message's exchange was already evicted
	stats   ParserStats
	closed  bool
}

type entry struct {
	ex          Exchange
	reqDone     bool
	respStarted bool
	respDone    bool
}

// NewConnParser returns a parser for one connection that hands its
// exchanges to sink.
func NewConnParser(opts ParserOptions, sink ExchangeSink) *ConnParser {
	p := &ConnParser{opts: opts.withDefaults(), sink: sink}
	for d := range p.h {
		p.h[d].dir = flows.Dir(d)
		if p.opts.Midstream {
			p.h[d].state = stResync
		}
	}
	return p
}

// Stats returns the parser's counters so far.
func (p *ConnParser) Stats() ParserStats { return p.stats }

// Data takes the next in-order bytes of one direction; at is the frame
// that carried them. data is not kept after the call.
func (p *ConnParser) Data(dir flows.Dir, data []byte, at flows.FrameRef) {
	if p.closed || dir > flows.ServerToClient {
		return
	}
	h := &p.h[dir]
	for len(data) > 0 {
		data = data[p.step(h, data, &at):]
	}
}

// Gap says n bytes of one direction are missing from the capture at this
// point; snaplen says the capture cut them rather than lost them.
func (p *ConnParser) Gap(dir flows.Dir, n int64, at flows.FrameRef, snaplen bool) {
	if p.closed || dir > flows.ServerToClient || n <= 0 {
		return
	}
	h := &p.h[dir]
	p.stats.GapBytes[dir] += n
	cut := Flags(0)
	if snaplen {
		cut = Snaplen
	}
	switch h.state {
	case stIdle:
		// The gap may have swallowed the start of a message.
		p.toResync(h)
	case stStart:
		p.cutStart(h, Partial|cut)
	case stHeader:
		p.msg(h).Flags |= Partial | cut
		p.done(h)
		p.toResync(h)
	case stBody, stChunkData:
		m := p.msg(h)
		m.Flags |= BodyGap | cut
		if n < h.remain {
			h.remain -= n
			m.BodyBytes += n
			return
		}
		rem := h.remain
		m.BodyBytes += rem
		h.remain = 0
		switch {
		case n > rem && h.state == stChunkData:
			m.Flags |= LostEnd
			p.done(h)
			p.toResync(h)
		case h.state == stChunkData:
			h.state, h.sawCR = stChunkEnd, false
		case n > rem:
			// The body ended inside the gap, and the next message began there.
			p.done(h)
			p.toResync(h)
		default:
			p.done(h)
		}
	case stChunkSize, stChunkEnd, stTrailer:
		p.msg(h).Flags |= LostEnd | cut
		p.done(h)
		p.toResync(h)
	case stUntilClose:
		m := p.msg(h)
		m.Flags |= BodyGap | cut
		m.BodyBytes += n
	case stResync:
		p.dropLookahead(h)
	}
}

// Close says the connection ended (or will not be followed further): a
// response read until close is complete; everything else still open is
// flagged and emitted. at is where the connection ended (FIN, RST or last
// packet); messages keep the frames of their last captured bytes as End,
// because that is what the peer actually sent.
func (p *ConnParser) Close(at flows.FrameRef) {
	if p.closed {
		return
	}
	for d := range p.h {
		h := &p.h[d]
		switch h.state {
		case stStart:
			p.cutStart(h, Incomplete)
		case stHeader, stBody, stChunkSize, stChunkData, stChunkEnd, stTrailer:
			m := p.msg(h)
			m.Flags |= Incomplete
			m.End = h.last
		case stUntilClose:
			p.done(h)
		case stResync:
			p.dropLookahead(h)
		}
	}
	for p.qh < len(p.q) {
		p.evict()
	}
	p.closed = true
}

// entry returns the exchange with sequence number seq, or nil when it was
// already emitted (or dropped).
func (p *ConnParser) entry(seq uint64) *entry {
	if seq < p.headSeq {
		return nil
	}
	i := p.qh + int(seq-p.headSeq)
	if i >= len(p.q) {
		return nil
	}
	return &p.q[i]
}

// exchange returns the exchange of h's message in progress. If it was
// already evicted, the message is still framed, in a scratch exchange.
func (p *ConnParser) exchange(h *half) *Exchange {
	if e := p.entry(h.seq); e != nil {
		return &e.ex
	}
	p.scratch = Exchange{}
	return &p.scratch
}

// msg returns the message in progress in h's direction.
func (p *ConnParser) msg(h *half) *Message {
	e := p.exchange(h)
	if h.dir == flows.ClientToServer {
		return &e.Request.Message
	}
	return &e.Response.Message
}

// push appends a new exchange and returns its sequence number.
func (p *ConnParser) push() uint64 {
	if len(p.q)-p.qh >= p.opts.MaxPending {
		p.evict()
	}
	seq := p.reqSeq
	p.reqSeq++
	if n := len(p.q); n < cap(p.q) {
		// The slot was zeroed when its last exchange left the queue (pop,
		// tunnel): spare zeroing it twice, an entry being over 500 bytes.
		p.q = p.q[:n+1]
	} else {
		p.q = append(p.q, entry{})
	}
	e := &p.q[len(p.q)-1]
	e.ex.Index = int(seq)
	e.ex.Request.ContentLength = -1
	e.ex.Response.ContentLength = -1
	return seq
}

// openRequest starts the request of a new exchange at h's message start.
func (p *ConnParser) openRequest(h *half) *Request {
	h.seq = p.push()
	q := &p.entry(h.seq).ex.Request
	q.Start = h.start
	p.takeSkipped(h, &q.Message)
	return q
}

// openResponse attaches a response starting at h's message start to the
// oldest exchange without one, or to a new exchange with no request.
func (p *ConnParser) openResponse(h *half) (*Response, string) {
	if q := &p.h[flows.ClientToServer]; p.respSeq >= p.reqSeq && q.state == stStart && q.bad {
		// The server answers bytes that are not a request (a TLS
		// ClientHello, say) before they reached a line end or prefixLen:
		// decide on them now so that the answer pairs with them.
		p.badStart(q)
	}
	if p.respSeq >= p.reqSeq {
		seq := p.push()
		e := p.entry(seq)
		e.ex.Request.Flags = Missing
		e.reqDone = true
		p.respSeq = seq
	}
	h.seq = p.respSeq
	e := p.entry(h.seq)
	r := &e.ex.Response
	if !e.respStarted {
		e.respStarted = true
		r.Start = h.start
	}
	p.takeSkipped(h, &r.Message)
	return r, e.ex.Request.Method
}

func (p *ConnParser) takeSkipped(h *half, m *Message) {
	if h.skipped > 0 {
		m.Skipped += h.skipped
		m.Flags |= Resynced
		h.skipped = 0
	}
}

// done ends h's message in progress and emits what is ready.
func (p *ConnParser) done(h *half) {
	if e := p.entry(h.seq); e != nil {
		if h.dir == flows.ClientToServer {
			e.ex.Request.End = h.last
			e.reqDone = true
		} else {
			e.ex.Response.End = h.last
			e.respDone = true
		}
	}
	if h.dir == flows.ServerToClient && p.respSeq == h.seq {
		p.respSeq++
	}
	h.state = stIdle
	p.emitReady()
}

// emitReady emits the exchanges at the head of the queue whose request and
// response are both done: responses come in request order, so an exchange
// never waits for a later one.
func (p *ConnParser) emitReady() {
	for p.qh < len(p.q) {
		e := &p.q[p.qh]
		if !e.reqDone || !e.respDone {
			break
		}
		p.pop()
	}
}

// evict emits the oldest exchange as it stands, flagging what it lacks.
func (p *ConnParser) evict() {
	e := &p.q[p.qh]
	if !e.reqDone && e.ex.Request.Flags&Incomplete == 0 {
		e.ex.Request.Flags |= Incomplete
		e.ex.Request.End = p.h[flows.ClientToServer].last
	}
	switch {
	case !e.respStarted:
		e.ex.Response.Flags |= Missing
	case !e.respDone && e.ex.Response.Flags&Incomplete == 0:
		e.ex.Response.Flags |= Incomplete
		e.ex.Response.End = p.h[flows.ServerToClient].last
	}
	p.pop()
	p.respSeq = max(p.respSeq, p.headSeq)
}

func (p *ConnParser) pop() {
	e := &p.q[p.qh]
	p.stats.Exchanges++
	p.sink.Exchange(&e.ex)
	*e = entry{} // release its strings; push relies on it too
	p.qh++
	p.headSeq++
	switch {
	case p.qh == len(p.q):
		p.q, p.qh = p.q[:0], 0
	case p.qh >= 32 && 2*p.qh >= len(p.q):
		n := copy(p.q, p.q[p.qh:])
		clear(p.q[n:]) // for push
		p.q, p.qh = p.q[:n], 0
	}
}

// tunnel ends h's response, after a CONNECT 2xx or a 101, and makes the
// rest of the connection opaque. Exchanges the client seemed to start after
// it are dropped: their bytes were the tunnel's.
func (p *ConnParser) tunnel(h *half) {
	if e := p.entry(h.seq); e != nil {
		e.reqDone = true
		if i := p.qh + int(h.seq-p.headSeq) + 1; i < len(p.q) {
			clear(p.q[i:])
			p.q = p.q[:i]
		}
		p.reqSeq = h.seq + 1
	}
	p.done(h)
	for d := range p.h {
		p.h[d].state = stTunnel
	}
}
