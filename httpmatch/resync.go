package httpmatch

import "why502/flows"

// toResync makes h look for the next plausible message start.
func (p *ConnParser) toResync(h *half) {
	h.state = stResync
	h.buf = h.buf[:0]
}

func (p *ConnParser) skip(h *half, n int) {
	h.skipped += int64(n)
	p.stats.Skipped[h.dir] += int64(n)
}

// dropLookahead counts a pending possible start as skipped: a gap or the
// end of the connection interrupted it.
func (p *ConnParser) dropLookahead(h *half) {
	if h.look != nil && h.look.n > 0 {
		p.skip(h, h.look.n)
		h.look.n = 0
	}
}

// resync skips bytes up to the next plausible message start (see
// signature), where it begins a start line. Bytes that may begin one but
// end before it can be decided are kept in h.look, with their frames.
func (p *ConnParser) resync(h *half, data []byte, at *flows.FrameRef) int {
	n := 0
	for {
		if l := h.look; l != nil && l.n > 0 {
			switch signature(h.dir, l.b[:l.n]) {
			case sigMatch:
				p.begin(h, &l.at[0], true)
				h.buf = append(h.buf, l.b[:l.n]...)
				h.last = l.at[l.n-1]
				l.n = 0
				if h.buf[len(h.buf)-1] == '\n' {
					// "HTTP/1.1 200\n" fits in the lookahead.
					p.startComplete(h)
				}
				return n
			case sigNo:
				// Not here; the next possible start is inside the lookahead
				// or after it.
				p.skip(h, 1)
				copy(l.b[:], l.b[1:l.n])
				copy(l.at[:], l.at[1:l.n])
				l.n--
				if i := candidate(h.dir, l.b[:l.n]); i != 0 {
					if i < 0 {
						i = l.n
					}
					p.skip(h, i)
					copy(l.b[:], l.b[i:l.n])
					copy(l.at[:], l.at[i:l.n])
					l.n -= i
				}
			default:
				if n == len(data) {
					return n
				}
				l.b[l.n], l.at[l.n] = data[n], *at
				l.n++
				n++
			}
			continue
		}
		i := candidate(h.dir, data[n:])
		if i < 0 {
			p.skip(h, len(data)-n)
			return len(data)
		}
		p.skip(h, i)
		n += i
		switch signature(h.dir, data[n:]) {
		case sigMatch:
			p.begin(h, at, true)
			return n
		case sigNo:
			p.skip(h, 1)
			n++
		default:
			if h.look == nil {
				h.look = new(lookahead)
			}
			l := h.look
			l.n = copy(l.b[:], data[n:])
			for k := range l.n {
				l.at[k] = *at
			}
			return len(data)
		}
	}
}
