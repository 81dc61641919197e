package httpmatch

import (
	"bytes"

	"why502/flows"
)

// state is where a direction's byte stream is in its current message.
type state uint8

const (
	stIdle       state = iota // between messages
	stStart                   // in a start line
	stHeader                  // in header fields
	stBody                    // in a Content-Length body, remain bytes left
	stChunkSize               // in a chunk-size line
	stChunkData               // in chunk data, remain bytes left
	stChunkEnd                // at the CRLF after chunk data
	stTrailer                 // in the trailer section
	stUntilClose              // in a body delimited by the connection's end
	stTunnel                  // after CONNECT 2xx or 101: not HTTP any more
	stResync                  // looking for the next plausible message start
)

const (
	// prefixLen is how many first bytes decide that a message start is not
	// HTTP, and how many of them an Invalid message's Preview shows.
	prefixLen    = 64
	maxChunkLine = 4096
)

// half is the parsing state of one direction.
type half struct {
	dir   flows.Dir
	state state
	// resyncing: the start line in progress was found by resynchronizing,
	// and is skipped, not reported Invalid, if it turns out not to be one.
	resyncing bool
	// bad: the first bytes of the start line in progress cannot begin one.
	bad    bool
	buf    []byte // start line + header block, chunk-size line or trailer; bounded
	hdr    int    // start of the header fields in buf
	line   int    // start of the line being read in buf
	remain int64  // body or chunk bytes left
	sawCR  bool   // stChunkEnd
	status int    // status of the response in progress
	seq    uint64 // the exchange of the message in progress
	start  flows.FrameRef
	last   flows.FrameRef // frame of the last byte taken
	// skipped counts unparseable bytes since the last message began.
	skipped int64
	look    *lookahead // allocated on the first resynchronization
	// marks are the frames of the first prefixLen bytes of buf, one per
	// change of frame, so that a message found behind garbage at the start
	// gets the right Start.
	marks []mark

	lastURI, lastHost, lastServer string
	memo                          *headMemo // allocated at the half's second message
}

// lookahead keeps the bytes of a possible message start that straddles
// Data calls, with the frame of each (each could be the message's first).
type lookahead struct {
	b  [sigMax]byte
	at [sigMax]flows.FrameRef
	n  int
}

type mark struct {
	off int
	at  flows.FrameRef
}

// frameAt returns the frame of buf[off], off < prefixLen.
func (h *half) frameAt(off int) flows.FrameRef {
	at := h.start
	for _, m := range h.marks {
		if m.off > off {
			break
		}
		at = m.at
	}
	return at
}

// step takes some of data (possibly none, after a change of state) and
// returns how much.
func (p *ConnParser) step(h *half, data []byte, at *flows.FrameRef) int {
	switch h.state {
	case stIdle:
		return p.idle(h, data, at)
	case stStart:
		return p.startLine(h, data, at)
	case stHeader, stTrailer:
		return p.lines(h, data, at)
	case stBody, stChunkData:
		return p.body(h, data, at)
	case stChunkSize:
		return p.chunkSize(h, data, at)
	case stChunkEnd:
		return p.chunkEnd(h, data, at)
	case stUntilClose:
		h.last = *at
		p.msg(h).BodyBytes += int64(len(data))
	case stTunnel:
		p.stats.Tunneled[h.dir] += int64(len(data))
	case stResync:
		return p.resync(h, data, at)
	}
	return len(data)
}

// idle skips the empty lines a peer may send between messages (RFC 9112
// section 2.2), without counting them as garbage.
func (p *ConnParser) idle(h *half, data []byte, at *flows.FrameRef) int {
	i := 0
	for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i < len(data) {
		p.begin(h, at, false)
		return i + p.wholeHead(h, data[i:], at)
	}
	return i
}

func (p *ConnParser) begin(h *half, at *flows.FrameRef, resyncing bool) {
	h.state, h.start, h.last = stStart, *at, *at
	h.buf = h.buf[:0]
	h.marks = h.marks[:0]
	h.bad, h.resyncing = false, resyncing
}

// startLine collects a start line. Its first prefixLen bytes are checked as
// they come, in steps that end there, so that where an Invalid message ends
// and resynchronization begins does not depend on how the bytes were split.
func (p *ConnParser) startLine(h *half, data []byte, at *flows.FrameRef) int {
	take := len(data)
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		take = i + 1
	}
	checking := !h.resyncing && len(h.buf) < prefixLen
	if checking {
		take = min(take, prefixLen-len(h.buf))
	}
	take = min(take, p.opts.MaxHeaderBytes-len(h.buf))
	if checking && !sameFrame(h.frameAt(len(h.buf)), *at) {
		h.marks = append(h.marks, mark{len(h.buf), *at})
	}
	h.buf = append(h.buf, data[:take]...)
	h.last = *at
	complete := h.buf[len(h.buf)-1] == '\n'
	var sl startLine
	v := vMore
	if checking && !h.bad {
		sl, v = scanStart(h.dir, h.buf)
		h.bad = v == vBad
	}
	switch {
	case h.bad && (complete || len(h.buf) >= prefixLen):
		p.badStart(h)
	case complete && v != vMore:
		// The check scanned the whole line: most start lines are shorter
		// than prefixLen and come in one piece.
		p.startLineDone(h, sl, v)
	case complete:
		p.startComplete(h)
	case len(h.buf) >= p.opts.MaxHeaderBytes:
		if h.resyncing {
			p.skip(h, len(h.buf))
			p.toResync(h)
		} else {
			p.invalid(h, TooLarge)
		}
	}
	return take
}

func sameFrame(a, b flows.FrameRef) bool { return a.Frame == b.Frame && a.File == b.File }

// wholeHead takes the message idle has just begun at data if its start
// line and header block are whole in data, the common case (a request or
// a response head in one segment), and returns how much of data it took:
// one scan of each, no copy into h.buf, no trip through step per part.
// A whole start line before a block that is not goes on the general way
// from there; for anything else it returns 0, having changed nothing, and
// startLine takes the bytes. Either way the outcome is the general way's.
func (p *ConnParser) wholeHead(h *half, data []byte, at *flows.FrameRef) int {
	if m := h.memo; m != nil && m.matches(data) {
		m.misses = 0
		sl, hi := m.sl, m.info(data)
		h.state = stHeader
		p.openLine(h, data[:sl.end], sl)
		p.headerDone(h, &hi)
		return sl.end + m.end
	}
	// The start line is checked within its first prefixLen bytes, as
	// startLine does: a longer one is left to it. The scanners are called
	// here rather than through scanStart, sparing a copy of sl.
	var sl startLine
	var v verdict
	if b := data[:min(len(data), prefixLen)]; h.dir == flows.ClientToServer {
		sl, v = scanRequestLine(b)
	} else {
		sl, v = scanResponseLine(b)
	}
	if v != vOK {
		return 0
	}
	// The bound is lines', h.buf holding the start line.
	hi, end := parseHeader(data[sl.end:min(len(data), p.opts.MaxHeaderBytes)])
	if end < 0 {
		// Go on the general way without scanning the line again, nor
		// trying the header block whole in lines: it is not.
		h.buf = append(h.buf, data[:sl.end]...)
		p.startLineDone(h, sl, v)
		return sl.end + p.lineByLine(h, data[sl.end:], at)
	}
	if h.seq > 0 && sl.end+end <= maxMemo {
		if h.memo == nil {
			h.memo = new(headMemo)
		}
		m := h.memo
		if m.misses < memoTries || m.misses%memoTries == 0 {
			m.set(data[:sl.end+end], sl, &hi, end)
		}
		m.misses++
	}
	h.state = stHeader // h.start and h.last are at, from begin
	p.openLine(h, data[:sl.end], sl)
	p.headerDone(h, &hi)
	return sl.end + end
}

// headMemo is the last head (start line and header block) of a half that
// wholeHead scanned, with what the scans made of it. On a kept-alive
// connection the next head is often the same bytes: a client repeating
// its request, a proxy forwarding it, a backend's answer within the
// second of its Date. The scans are a function of the bytes alone, so a
// head that begins with the same bytes gets the same results, for the
// price of comparing them (a few vector loads for what took a pass per
// byte). A different head costs the comparison up to its first different
// byte, mostly in its start line, and keeping it, a copy: after memoTries
// different heads in a row, only one in memoTries is kept, so that a
// connection whose heads never repeat pays little more than the
// comparisons (BenchmarkParse/varied). (cachegrind, 100 MB of small
// keep-alive requests: the scans were a fifth of analyze's instructions.)
// Only heads of up to maxMemo bytes are kept, from a half's second
// message on, so a connection that carries one exchange allocates nothing
// for it.
type headMemo struct {
	head []byte // start line and header block, copied
	sl   startLine
	hi   headerInfo // host and server nil: their place is below
	end  int        // of the header block, after the start line
	// Where hi.host and hi.server were in the header block (-1: nil).
	hostOff, hostLen, serverOff, serverLen int
	misses                                 int // heads scanned since the last match
}

// memoTries is how many different heads in a row a headMemo keeps before
// it keeps only one in memoTries.
const memoTries = 4

// maxMemo bounds the head a headMemo copies, and so its memory per half.
const maxMemo = 512

// matches reports whether data begins with m's head.
func (m *headMemo) matches(data []byte) bool {
	return len(m.head) > 0 && len(data) >= len(m.head) && string(data[:len(m.head)]) == string(m.head)
}

// info is m's headerInfo for data, which matches: its host and server
// alias data, as parseHeader's would.
func (m *headMemo) info(data []byte) headerInfo {
	hi, block := m.hi, data[m.sl.end:]
	if m.hostOff >= 0 {
		hi.host = block[m.hostOff : m.hostOff+m.hostLen]
	}
	if m.serverOff >= 0 {
		hi.server = block[m.serverOff : m.serverOff+m.serverLen]
	}
	return hi
}

// set makes head, scanned into sl and hi (whose host and server alias
// head after sl.end), m's head.
func (m *headMemo) set(head []byte, sl startLine, hi *headerInfo, end int) {
	m.head = append(m.head[:0], head...)
	m.sl, m.hi, m.end = sl, *hi, end
	block := head[sl.end:]
	m.hostOff, m.hostLen = aliasAt(block, hi.host)
	m.serverOff, m.serverLen = aliasAt(block, hi.server)
	m.hi.host, m.hi.server = nil, nil
}

// aliasAt returns where sub, a slice of block (or nil), begins in it, and
// its length; -1 for nil. Slicing keeps a slice's end of capacity, so the
// difference of capacities is the offset.
func aliasAt(block, sub []byte) (int, int) {
	if sub == nil {
		return -1, 0
	}
	return cap(block) - cap(sub), len(sub)
}

// badStart handles a message start whose first bytes are not HTTP, once
// its first line or prefixLen bytes are in: if a plausible start follows
// within them, what comes before it is skipped as garbage (a backend that
// wrote more body than it announced, say); if not, the message is Invalid.
func (p *ConnParser) badStart(h *half) {
	for k := 1; k < len(h.buf); k++ {
		if candidate(h.dir, h.buf[k:k+1]) != 0 {
			continue
		}
		switch signature(h.dir, h.buf[k:]) {
		case sigNo:
			continue
		case sigMatch:
			p.skip(h, k)
			h.start = h.frameAt(k)
			h.buf = h.buf[:copy(h.buf, h.buf[k:])]
			h.bad, h.resyncing = false, true
			if h.buf[len(h.buf)-1] == '\n' {
				p.startComplete(h)
			}
			return
		default:
			p.skip(h, k)
			if h.look == nil {
				h.look = new(lookahead)
			}
			l := h.look
			l.n = copy(l.b[:], h.buf[k:])
			for i := range l.n {
				l.at[i] = h.frameAt(k + i)
			}
			p.toResync(h)
			return
		}
	}
	p.invalid(h, 0)
}

func (p *ConnParser) startComplete(h *half) {
	sl, v := scanStart(h.dir, h.buf)
	p.startLineDone(h, sl, v)
}

// startLineDone takes the complete start line in h.buf, scanned into sl,
// with verdict v.
func (p *ConnParser) startLineDone(h *half, sl startLine, v verdict) {
	if v != vOK {
		if h.resyncing {
			p.skip(h, len(h.buf))
			p.toResync(h)
		} else {
			p.invalid(h, 0)
		}
		return
	}
	h.state = stHeader
	h.hdr, h.line = len(h.buf), len(h.buf)
	p.openLine(h, h.buf, sl)
}

// openLine opens h's message, whose start line (or the part of it a gap
// left) is line, scanned into sl.
func (p *ConnParser) openLine(h *half, line []byte, sl startLine) *Message {
	if h.dir == flows.ClientToServer {
		q := p.openRequest(h)
		q.Proto = sl.proto
		if sl.methodEnd > 0 {
			q.Method = methodString(line[:min(sl.methodEnd, maxMethod)])
		}
		if sl.targetEnd > 0 {
			q.URI = keep(&h.lastURI, line[sl.targetStart:sl.targetEnd], maxURI)
		}
		return &q.Message
	}
	r, _ := p.openResponse(h)
	h.status = sl.status
	switch {
	case sl.status == 0:
	case sl.status < 200 && sl.status != 101:
		if r.Interim == 0 {
			r.InterimStatus = sl.status
		}
		r.Interim++
	default:
		r.Status, r.Proto = sl.status, sl.proto
		r.Reason = reasonString(line[sl.reasonStart:sl.reasonEnd])
	}
	return &r.Message
}

// invalid reports the message start in h.buf as not HTTP, and resynchronizes.
func (p *ConnParser) invalid(h *half, f Flags) {
	var m *Message
	if h.dir == flows.ClientToServer {
		m = &p.openRequest(h).Message
	} else {
		r, _ := p.openResponse(h)
		m = &r.Message
	}
	m.Flags |= Invalid | f
	m.Preview = quotePreview(h.buf)
	p.done(h)
	p.toResync(h)
}

// cutStart ends a start line that a gap or the connection's end cut short.
// If its bytes could begin a message it is reported with what was read and
// flags f (Partial or Incomplete); otherwise as Invalid.
func (p *ConnParser) cutStart(h *half, f Flags) {
	if h.resyncing {
		p.skip(h, len(h.buf))
		p.toResync(h)
		return
	}
	sl, v := scanStart(h.dir, h.buf)
	if v == vBad {
		p.invalid(h, f&Snaplen)
		return
	}
	m := p.openLine(h, h.buf, sl)
	m.Flags |= f
	if f&Partial != 0 {
		m.Flags |= startCut
	}
	p.done(h)
	p.toResync(h)
}

// lines collects header (or trailer) lines up to the empty line.
func (p *ConnParser) lines(h *half, data []byte, at *flows.FrameRef) int {
	if h.state == stHeader && len(h.buf) == h.hdr {
		// Most header blocks come whole in one Data call: parse them in
		// data, without copying them into h.buf line by line. The bound
		// is the slow path's, so that a block too large for it is still
		// TooLarge; a block that does not end in data goes the slow way,
		// which it takes from then on, so data is parsed here only once.
		hi, end := parseHeader(data[:min(len(data), p.opts.MaxHeaderBytes-len(h.buf))])
		if end >= 0 {
			h.last = *at
			p.headerDone(h, &hi)
			return end
		}
	}
	return p.lineByLine(h, data, at)
}

// lineByLine is lines' way when the block does not come whole: it copies
// the lines into h.buf as they come.
func (p *ConnParser) lineByLine(h *half, data []byte, at *flows.FrameRef) int {
	n := 0
	for n < len(data) {
		take := len(data) - n
		if i := bytes.IndexByte(data[n:], '\n'); i >= 0 {
			take = i + 1
		}
		take = min(take, p.opts.MaxHeaderBytes-len(h.buf))
		h.buf = append(h.buf, data[n:n+take]...)
		n += take
		h.last = *at
		if h.buf[len(h.buf)-1] == '\n' {
			if l := len(h.buf) - h.line; l == 1 || (l == 2 && h.buf[h.line] == '\r') {
				if h.state == stHeader {
					hi, _ := parseHeader(h.buf[h.hdr:])
					p.headerDone(h, &hi)
				} else {
					p.done(h)
				}
				return n
			}
			h.line = len(h.buf)
		}
		if len(h.buf) >= p.opts.MaxHeaderBytes {
			p.msg(h).Flags |= TooLarge
			p.done(h)
			p.toResync(h)
			return n
		}
	}
	return n
}

// headerDone takes the header block just read. hi may alias the caller's
// data: what the message keeps of it, it copies.
func (p *ConnParser) headerDone(h *half, hi *headerInfo) {
	if h.dir == flows.ClientToServer {
		p.requestHeader(h, hi)
	} else {
		p.responseHeader(h, hi)
	}
}

func (p *ConnParser) requestHeader(h *half, hi *headerInfo) {
	q := &p.exchange(h).Request
	q.HeaderEnd = h.last
	if hi.badField {
		q.Flags |= BadHeader
	}
	q.Close, q.KeepAlive, q.Expect100 = hi.close, hi.keepAlive, hi.expect100
	if hi.host != nil {
		q.Host = keep(&h.lastHost, hi.host, maxHost)
	}
	if hi.hasLength && !hi.badLength {
		q.ContentLength = hi.length
	}
	switch {
	case hi.te && hi.chunked:
		// Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3).
		q.Body = ChunkedBody
		p.startChunked(h)
	case hi.te || hi.badLength:
		// A request's length must be known; the server would answer 400.
		q.Flags |= BadFraming
		p.done(h)
		p.toResync(h)
	case hi.hasLength && hi.length > 0:
		q.Body = LengthBody
		h.state, h.remain = stBody, hi.length
	default:
		if hi.hasLength {
			q.Body = LengthBody
		}
		p.done(h)
	}
}

func (p *ConnParser) responseHeader(h *half, hi *headerInfo) {
	e := p.exchange(h)
	if h.status < 200 && h.status != 101 {
		// Interim: the final response follows, for the same request.
		h.state = stIdle
		return
	}
	r := &e.Response
	r.HeaderEnd = h.last
	if hi.badField {
		r.Flags |= BadHeader
	}
	r.Close, r.KeepAlive = hi.close, hi.keepAlive
	if hi.server != nil {
		r.Server = keep(&h.lastServer, hi.server, maxServer)
	}
	if hi.hasLength && !hi.badLength {
		r.ContentLength = hi.length
	}
	method := e.Request.Method
	switch {
	case h.status == 101 || (method == "CONNECT" && h.status/100 == 2):
		r.Body = TunnelBody
		p.tunnel(h)
	case method == "HEAD" || h.status == 204 || h.status == 304:
		p.done(h)
	case hi.te && hi.chunked:
		r.Body = ChunkedBody
		p.startChunked(h)
	case hi.te:
		r.Body = CloseBody
		h.state = stUntilClose
	case hi.badLength:
		r.Flags |= BadFraming
		p.done(h)
		p.toResync(h)
	case hi.hasLength:
		r.Body = LengthBody
		if h.state, h.remain = stBody, hi.length; hi.length == 0 {
			p.done(h)
		}
	default:
		r.Body = CloseBody
		h.state = stUntilClose
	}
}
