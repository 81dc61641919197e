package flows

import (
	"time"

	"why502/capture"
)

// half is the reassembly state of one direction. Positions are stream
// offsets (int64, bytes after the SYN or after the first seen sequence
// number), converted from 32-bit sequence numbers relative to next with
// serial-number arithmetic, so that streams wrap 2^32 and grow past 4 GiB.
type half struct {
	started bool
	fin     bool   // a FIN was seen, at finOff
	rst     bool   // a RST was seen
	base    uint32 // sequence number of offset 0
	next    int64  // every byte before next was delivered or declared a gap
	hi      int64  // highest offset reached (sent data, or acked by the peer)
	acked   int64  // highest offset the peer acknowledged
	finOff  int64

	// segs holds out-of-order segments: sorted by off, never overlapping,
	// all beyond next. Without WantData they carry no bytes, only ranges.
	segs     []seg
	buffered int64 // sequence space held in segs
}

// seg is a run of stream [off, end) of which [off, capEnd) was captured;
// data holds those captured bytes when the tracker wants data.
type seg struct {
	off, end, capEnd int64
	data             []byte
	at               FrameRef
	idle             time.Duration
}

func (h *half) start(seq uint32) {
	h.started = true
	h.base = seq
}

// offset converts a sequence number to a stream offset. It is exact within
// 2^31 of next, which covers any window TCP allows.
func (h *half) offset(seq uint32) int64 {
	nextSeq := h.base + uint32(h.next)
	return h.next + int64(int32(seq-nextSeq))
}

func frameRef(p *capture.Packet) FrameRef {
	return FrameRef{File: p.File, Frame: p.Frame, Time: p.Time}
}

// segment takes payload of direction d at stream offset off. It reports
// whether the segment carried new bytes (beyond any seen before).
func (t *Tracker) segment(c *conn, d Dir, off int64, p *capture.Packet, idle time.Duration) bool {
	h := &c.half[d]
	if off == h.next && len(h.segs) == 0 && !h.fin && !h.rst && len(p.Payload) >= p.PayloadLen {
		// In order, whole and nothing held, as nearly every segment is:
		// there is nothing to merge, cut or hold, so the Chunk is made
		// from p directly.
		end := off + int64(p.PayloadLen)
		fresh := end > h.hi
		if fresh {
			h.hi = end
		}
		if t.opts.WantData {
			t.h.Data(&c.Conn, Chunk{Dir: d, Data: p.Payload[:p.PayloadLen], At: frameRef(p), Idle: idle})
		}
		h.next = end
		return fresh
	}
	s := seg{off: off, end: off + int64(p.PayloadLen), capEnd: off + int64(len(p.Payload)), at: frameRef(p), idle: idle}
	if t.opts.WantData {
		s.data = p.Payload
	}
	if h.fin && s.end > h.finOff {
		// Nothing can follow a FIN; bytes claimed beyond it are bogus.
		s.end = h.finOff
		s.capEnd = min(s.capEnd, s.end)
	}
	if h.rst || s.end <= h.next || s.end <= s.off {
		return false // retransmission of delivered bytes, or after a reset
	}
	fresh := s.end > h.hi
	if fresh {
		h.hi = s.end
	}
	if s.off <= h.next {
		t.deliverMerged(c, d, s)
		return fresh
	}
	// Out of order: hold the parts not already held (first seen wins).
	if h.buffered+t.uncovered(h, s) > int64(t.opts.MaxBuffer) {
		t.stats.Overflows++
		t.skipTo(c, d, s.off, s.at)
		t.deliverMerged(c, d, s)
		return fresh
	}
	t.insert(h, s)
	return fresh
}

// uncovered is how much of s is not yet held in h.segs.
func (t *Tracker) uncovered(h *half, s seg) int64 {
	n := s.end - s.off
	for i := range h.segs {
		b := &h.segs[i]
		if b.off >= s.end {
			break
		}
		lo, hi := max(b.off, s.off), min(b.end, s.end)
		if hi > lo {
			n -= hi - lo
		}
	}
	return n
}

// insert adds to h.segs the parts of s not covered by segments held
// already; bytes are copied because the packet's buffer is reused.
func (t *Tracker) insert(h *half, s seg) {
	cur := s.off
	i := 0
	for cur < s.end {
		for i < len(h.segs) && h.segs[i].end <= cur {
			i++
		}
		stop := s.end
		if i < len(h.segs) {
			if h.segs[i].off <= cur {
				cur = h.segs[i].end
				continue
			}
			stop = min(stop, h.segs[i].off)
		}
		piece := s.slice(cur, stop)
		if piece.data != nil {
			piece.data = append([]byte(nil), piece.data...)
		}
		h.segs = append(h.segs, seg{})
		copy(h.segs[i+1:], h.segs[i:])
		h.segs[i] = piece
		h.buffered += piece.end - piece.off
		i++
		cur = stop
	}
}

// slice is the part [from, to) of s.
func (s seg) slice(from, to int64) seg {
	r := s
	r.off, r.end = from, to
	r.capEnd = min(max(s.capEnd, from), to)
	if s.data != nil {
		if from >= s.capEnd {
			r.data = s.data[len(s.data):] // all past the snaplen cut
		} else {
			r.data = s.data[from-s.off : r.capEnd-s.off]
		}
	}
	return r
}

// deliverMerged delivers s, which starts at or before next, interleaved
// with held segments: where both cover a byte, the held one was seen first
// and wins. It then delivers whatever held segments became contiguous.
func (t *Tracker) deliverMerged(c *conn, d Dir, s seg) {
	h := &c.half[d]
	for h.next < s.end {
		if len(h.segs) > 0 && h.segs[0].off <= h.next {
			t.popFront(c, d)
			continue
		}
		stop := s.end
		if len(h.segs) > 0 {
			stop = min(stop, h.segs[0].off)
		}
		t.deliver(c, d, s.slice(h.next, stop))
	}
	t.drain(c, d)
}

// drain delivers held segments while they are contiguous with next.
func (t *Tracker) drain(c *conn, d Dir) {
	h := &c.half[d]
	for len(h.segs) > 0 && h.segs[0].off <= h.next {
		t.popFront(c, d)
	}
}

func (t *Tracker) popFront(c *conn, d Dir) {
	h := &c.half[d]
	b := h.segs[0]
	h.buffered -= b.end - b.off
	copy(h.segs, h.segs[1:])
	h.segs[len(h.segs)-1] = seg{}
	h.segs = h.segs[:len(h.segs)-1]
	if b.end > h.next {
		t.deliver(c, d, b.slice(max(b.off, h.next), b.end))
	}
}

// deliver hands s (starting exactly at next) to the handler: its captured
// bytes as data, its snaplen-cut tail as a gap.
func (t *Tracker) deliver(c *conn, d Dir, s seg) {
	h := &c.half[d]
	if s.capEnd > s.off {
		if t.opts.WantData {
			t.h.Data(&c.Conn, Chunk{Dir: d, Data: s.data, At: s.at, Idle: s.idle})
		}
		h.next = s.capEnd
	}
	if s.end > s.capEnd {
		t.gap(c, Gap{Dir: d, Offset: s.capEnd, Len: s.end - s.capEnd, At: s.at, Snaplen: true})
	}
	h.next = s.end
}

// skipTo gives up waiting for the bytes before stream offset to: holes
// become gaps, held segments before it are delivered.
func (t *Tracker) skipTo(c *conn, d Dir, to int64, at FrameRef) {
	h := &c.half[d]
	for len(h.segs) > 0 && h.segs[0].off < to {
		if b := h.segs[0]; b.off > h.next {
			t.gap(c, Gap{Dir: d, Offset: h.next, Len: b.off - h.next, At: at})
			h.next = b.off
		}
		t.popFront(c, d)
	}
	if to > h.next {
		t.gap(c, Gap{Dir: d, Offset: h.next, Len: to - h.next, At: at})
		h.next = to
	}
	t.drain(c, d)
}

// acked notes that the peer acknowledged direction d up to p.Ack. Bytes
// acknowledged crossed the wire: if the capture lacks them, waiting is
// pointless and the hole becomes a gap now.
func (t *Tracker) acked(c *conn, d Dir, p *capture.Packet) {
	h := &c.half[d]
	if !h.started {
		return
	}
	off := h.offset(p.Ack)
	if h.fin && off > h.finOff {
		off = h.finOff // the FIN's own sequence number is not a byte
	}
	// An acknowledgement far beyond anything sent is not one we can
	// trust (a stray or mangled packet); ignore it rather than invent a
	// gigabyte gap.
	if off <= h.acked || off-h.hi > maxAckAhead {
		return
	}
	h.acked = off
	if off > h.hi {
		h.hi = off
	}
	if off > h.next {
		t.skipTo(c, d, off, frameRef(p))
	}
}

// maxAckAhead bounds how far past the highest seen byte an ACK may reach
// and still count as evidence of lost bytes.
const maxAckAhead = 1 << 24

// finishHalf declares every remaining hole of d a gap: the stream is over.
func (t *Tracker) finishHalf(c *conn, d Dir, at FrameRef) {
	h := &c.half[d]
	if !h.started {
		return
	}
	t.skipTo(c, d, h.hi, at)
	h.segs = nil
}

func (t *Tracker) gap(c *conn, g Gap) {
	if g.Len <= 0 {
		return
	}
	c.GapCount++
	c.GapBytes[g.Dir] += g.Len
	if len(c.Gaps) < MaxGapsKept {
		c.Gaps = append(c.Gaps, g)
	}
	t.stats.Gaps++
	t.stats.GapBytes += g.Len
	t.h.Gap(&c.Conn, g)
}
