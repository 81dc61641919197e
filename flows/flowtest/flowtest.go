// Package flowtest builds TCP packet sequences for testing code that
// consumes capture.Packet, in particular the cases real stacks will not
// produce on demand: reordering, retransmission with overlap, sequence
// wrap, snaplen-cut segments, bytes lost from the capture but acknowledged,
// port reuse, RST after FIN, SYN retransmissions.
//
// A Builder follows one connection's sequence numbers so that a test
// states what happens, not arithmetic:
//
//	b := flowtest.New(t0, client, server)
//	b.SYN().SYNACK().ACK(flows.Client)
//	b.Data(flows.ClientToServer, "GET / HTTP/1.1\r\n\r\n")
//	b.At(2 * time.Second).FIN(flows.Server)
//	for _, p := range b.Packets() { tracker.Add(&p) }
package flowtest

import (
	"net/netip"
	"slices"
	"time"

	"why502/capture"
	"why502/flows"
)

// Builder accumulates the packets of one connection. Methods return the
// Builder so that calls chain.
type Builder struct {
	// File is the file name put in every packet ("test.pcap" by default).
	File string

	now  time.Time
	addr [2]netip.AddrPort // sender of each Dir
	isn  [2]uint32
	next [2]int64 // next stream offset each Dir sends
	fin  [2]bool
	pkts []capture.Packet
}

// New starts a connection from client to server at time t0. The ISNs
// default to 1000 (client) and 5000 (server); see ISN.
func New(t0 time.Time, client, server netip.AddrPort) *Builder {
	return &Builder{
		File: "test.pcap",
		now:  t0,
		addr: [2]netip.AddrPort{client, server},
		isn:  [2]uint32{1000, 5000},
	}
}

// ISN sets the initial sequence numbers; call it before SYN. Values near
// 2^32 make the streams wrap.
func (b *Builder) ISN(client, server uint32) *Builder {
	b.isn = [2]uint32{client, server}
	return b
}

// At moves the clock forward by d; later packets carry the new time.
func (b *Builder) At(d time.Duration) *Builder {
	b.now = b.now.Add(d)
	return b
}

// Now returns the time the next packet will carry.
func (b *Builder) Now() time.Time { return b.now }

func dirOf(s flows.Side) flows.Dir {
	if s == flows.Server {
		return flows.ServerToClient
	}
	return flows.ClientToServer
}

// Seq is the sequence number of stream offset off in direction d.
func (b *Builder) Seq(d flows.Dir, off int64) uint32 {
	return b.isn[d] + 1 + uint32(off)
}

// ackFor is what direction d acknowledges: all the peer sent, its FIN included.
func (b *Builder) ackFor(d flows.Dir) uint32 {
	p := 1 - d
	a := b.Seq(p, b.next[p])
	if b.fin[p] {
		a++
	}
	return a
}

// Raw appends one packet from the sender of d with exactly these fields.
// payload is what was captured; wireLen is the payload length on the wire
// (at least len(payload); snaplen cut the rest).
func (b *Builder) Raw(d flows.Dir, flags capture.TCPFlags, seq, ack uint32, payload string, wireLen int) *Builder {
	wireLen = max(wireLen, len(payload))
	b.pkts = append(b.pkts, capture.Packet{
		File:       b.File,
		Time:       b.now,
		WireLen:    54 + wireLen,
		CapLen:     54 + len(payload),
		Src:        b.addr[d],
		Dst:        b.addr[1-d],
		Seq:        seq,
		Ack:        ack,
		Flags:      flags,
		Window:     65535,
		PayloadLen: wireLen,
		Payload:    []byte(payload),
	})
	return b
}

// SYN sends the client's SYN; calling it again retransmits it (same ISN).
func (b *Builder) SYN() *Builder {
	return b.Raw(flows.ClientToServer, capture.SYN, b.isn[0], 0, "", 0)
}

// SYNACK sends the server's SYN-ACK.
func (b *Builder) SYNACK() *Builder {
	return b.Raw(flows.ServerToClient, capture.SYN|capture.ACK, b.isn[1], b.isn[0]+1, "", 0)
}

// ACK sends a pure ACK from side s of everything the peer sent.
func (b *Builder) ACK(s flows.Side) *Builder {
	d := dirOf(s)
	return b.Raw(d, capture.ACK, b.Seq(d, b.next[d]), b.ackFor(d), "", 0)
}

// AckTo sends a pure ACK from side s acknowledging the peer's stream up to
// offset off: beyond what the capture holds, it says bytes were lost.
func (b *Builder) AckTo(s flows.Side, off int64) *Builder {
	d := dirOf(s)
	return b.Raw(d, capture.ACK, b.Seq(d, b.next[d]), b.Seq(1-d, off), "", 0)
}

// Data sends the next bytes of direction d.
func (b *Builder) Data(d flows.Dir, s string) *Builder {
	return b.Segment(d, b.next[d], s)
}

// Segment sends s at stream offset off of direction d, wherever that is:
// behind the stream's end (a retransmission, possibly overlapping) or
// ahead of it (reordering). The stream's end moves to the segment's end if
// that is further.
func (b *Builder) Segment(d flows.Dir, off int64, s string) *Builder {
	b.Raw(d, capture.PSH|capture.ACK, b.Seq(d, off), b.ackFor(d), s, len(s))
	b.next[d] = max(b.next[d], off+int64(len(s)))
	return b
}

// Cut sends the next bytes of direction d of which the capture kept only
// the first captured (snaplen).
func (b *Builder) Cut(d flows.Dir, s string, captured int) *Builder {
	b.Raw(d, capture.PSH|capture.ACK, b.Seq(d, b.next[d]), b.ackFor(d), s[:captured], len(s))
	b.next[d] += int64(len(s))
	return b
}

// Lose advances direction d by n bytes that never reach the capture.
func (b *Builder) Lose(d flows.Dir, n int) *Builder {
	b.next[d] += int64(n)
	return b
}

// Next is the stream offset direction d sends next.
func (b *Builder) Next(d flows.Dir) int64 { return b.next[d] }

// FIN sends a FIN (with ACK) from side s.
func (b *Builder) FIN(s flows.Side) *Builder {
	d := dirOf(s)
	b.Raw(d, capture.FIN|capture.ACK, b.Seq(d, b.next[d]), b.ackFor(d), "", 0)
	b.fin[d] = true
	return b
}

// RST sends a RST (with ACK, as Linux does on an established connection)
// from side s.
func (b *Builder) RST(s flows.Side) *Builder {
	d := dirOf(s)
	seq := b.Seq(d, b.next[d])
	if b.fin[d] {
		seq++
	}
	return b.Raw(d, capture.RST|capture.ACK, seq, b.ackFor(d), "", 0)
}

// Refuse answers the SYN the way a port with no listener does: RST+ACK,
// sequence 0, acknowledging the SYN.
func (b *Builder) Refuse() *Builder {
	return b.Raw(flows.ServerToClient, capture.RST|capture.ACK, 0, b.isn[0]+1, "", 0)
}

// Packets returns the packets so far, framed 1, 2, 3...
func (b *Builder) Packets() []capture.Packet {
	out := slices.Clone(b.pkts)
	for i := range out {
		out[i].Frame = int64(i + 1)
	}
	return out
}

// Merge interleaves the packets of several builders in time order (stable:
// equal times keep builder order) and numbers the frames 1, 2, 3...
func Merge(bs ...*Builder) []capture.Packet {
	var out []capture.Packet
	for _, b := range bs {
		out = append(out, b.pkts...)
	}
	slices.SortStableFunc(out, func(x, y capture.Packet) int { return x.Time.Compare(y.Time) })
	for i := range out {
		out[i].Frame = int64(i + 1)
	}
	return out
}

// Feed adds packets to t in order (without Flush).
func Feed(t *flows.Tracker, pkts []capture.Packet) {
	for i := range pkts {
		t.Add(&pkts[i])
	}
}
