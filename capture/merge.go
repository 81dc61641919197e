package capture

import (
	"errors"
	"fmt"
	"io"

	"why502/internal/timecmp"
)

// stream is one source being read: its reader, and the next TCP segment it
// holds ready for the merge.
type stream struct {
	name  string
	index int // position in the argument list: breaks timestamp ties
	src   recordReader
	rec   record
	pkt   Packet

	fragWarned  bool
	undecodable int      // warnings raised for malformed frames
	badLinks    []uint32 // unsupported link types already warned about
}

// advance reads s up to its next TCP segment that passes the filter, into
// s.pkt. It returns false when the stream is finished (end of file or an
// error, which becomes a warning).
func (r *Reader) advance(s *stream) bool { return r.advanceInto(s, &s.pkt) }

// advanceInto is advance into p.
func (r *Reader) advanceInto(s *stream, p *Packet) bool {
	for {
		err := s.src.next(&s.rec)
		if err != nil {
			if err != io.EOF {
				var re *readError
				if errors.As(err, &re) {
					r.warn(s.name, re.frame, re.err)
				} else {
					r.warn(s.name, 0, err)
				}
			}
			return false
		}
		if r.take(s, s.name, &s.rec, p) {
			return true
		}
	}
}

// take counts rec and decodes it into p, with file name; it reports
// whether rec is a TCP segment that passes the filter.
func (r *Reader) take(s *stream, name string, rec *record, p *Packet) bool {
	st := &r.stats
	st.Frames++
	// In nanoseconds: once per frame (timecmp).
	if st.First.IsZero() || timecmp.After(&st.First, r.firstNs, &rec.ts, rec.ns) {
		st.First, r.firstNs = rec.ts, rec.ns
	}
	if timecmp.After(&rec.ts, rec.ns, &st.Last, r.lastNs) {
		st.Last, r.lastNs = rec.ts, rec.ns
	}
	res, cut, why := decodeFrame(rec.link, rec.data, rec.wireLen, p)
	switch res {
	case resNonTCP:
		st.NonTCP++
		return false
	case resFragment:
		st.Fragments++
		if !s.fragWarned {
			s.fragWarned = true
			r.warn(name, rec.frame, errors.New("IP fragments seen; they are counted, not reassembled, and their TCP segments are not analysed"))
		}
		return false
	case resMalformed:
		st.Undecodable++
		if s.undecodable < maxUndecodableWarning {
			s.undecodable++
			r.warn(name, rec.frame, fmt.Errorf("undecodable frame: %s", why))
		}
		return false
	case resBadLink:
		st.Undecodable++
		if !s.warnedLink(rec.link) {
			r.warn(name, rec.frame, fmt.Errorf("frames skipped: %w", linkError(rec.link)))
		}
		return false
	}
	st.TCP++
	if cut {
		st.Truncated++
	}
	p.File = name
	p.Frame = rec.frame
	p.Time = rec.ts
	p.WireLen = rec.wireLen
	p.CapLen = len(rec.data)
	if r.opts.Filter != nil && !r.opts.Filter.Match(p) {
		st.Filtered++
		return false
	}
	return true
}

func (s *stream) warnedLink(link uint32) bool {
	for _, l := range s.badLinks {
		if l == link {
			return true
		}
	}
	s.badLinks = append(s.badLinks, link)
	return false
}

// The streams with a packet ready form a binary min-heap ordered by packet
// time, then by argument order, so equal timestamps keep the order in which
// the files were given and, within a file, the file's order.

func (r *Reader) less(a, b *stream) bool {
	if !a.pkt.Time.Equal(b.pkt.Time) {
		return a.pkt.Time.Before(b.pkt.Time)
	}
	return a.index < b.index
}

func (r *Reader) push(s *stream) {
	h := append(r.heap, s)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !r.less(h[i], h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	r.heap = h
}

func (r *Reader) pop() *stream {
	h := r.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		least := i
		if l := 2*i + 1; l < n && r.less(h[l], h[least]) {
			least = l
		}
		if rr := 2*i + 2; rr < n && r.less(h[rr], h[least]) {
			least = rr
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	r.heap = h
	return top
}
