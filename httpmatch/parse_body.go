package httpmatch

import (
	"bytes"

	"why502/flows"
)

// startChunked begins a chunked body (RFC 9112 section 7.1).
func (p *ConnParser) startChunked(h *half) {
	h.state = stChunkSize
	h.buf = h.buf[:0]
}

// body counts Content-Length body or chunk data bytes.
func (p *ConnParser) body(h *half, data []byte, at *flows.FrameRef) int {
	k := min(int64(len(data)), h.remain)
	h.remain -= k
	h.last = *at
	p.msg(h).BodyBytes += k
	if h.remain == 0 {
		if h.state == stBody {
			p.done(h)
		} else {
			h.state, h.sawCR = stChunkEnd, false
		}
	}
	return int(k)
}

func (p *ConnParser) chunkSize(h *half, data []byte, at *flows.FrameRef) int {
	take := len(data)
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		take = i + 1
	}
	take = min(take, maxChunkLine-len(h.buf))
	h.buf = append(h.buf, data[:take]...)
	h.last = *at
	switch {
	case h.buf[len(h.buf)-1] == '\n':
		size, ok := parseChunkSize(h.buf)
		h.buf = h.buf[:0]
		switch {
		case !ok:
			p.badFraming(h)
		case size == 0:
			h.state, h.line = stTrailer, 0
		default:
			h.state, h.remain = stChunkData, size
		}
	case len(h.buf) >= maxChunkLine:
		p.badFraming(h)
	}
	return take
}

// chunkEnd takes the CRLF (or bare LF) after chunk data.
func (p *ConnParser) chunkEnd(h *half, data []byte, at *flows.FrameRef) int {
	switch c := data[0]; {
	case c == '\r' && !h.sawCR:
		h.sawCR, h.last = true, *at
		return 1
	case c == '\n':
		h.last = *at
		p.startChunked(h)
		return 1
	}
	p.badFraming(h)
	return 0
}

func (p *ConnParser) badFraming(h *half) {
	p.msg(h).Flags |= BadFraming
	p.done(h)
	p.toResync(h)
}
