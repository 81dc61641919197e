package flows_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
)

// streamByte is the content of every segment at sequence number seq: the
// same bytes whenever they are (re)sent, and consecutive bytes differ by
// 7, so that a byte delivered at the wrong offset shows.
func streamByte(d flows.Dir, seq uint32) byte { return byte(seq*7) + byte(d) }

// fuzzPackets decodes arbitrary bytes into a packet sequence on one or two
// 4-tuples: SYNs, SYN-ACKs, data at arbitrary offsets (retransmissions,
// reordering, overlap, holes, snaplen cuts), ACKs, FINs and RSTs, with
// ISNs near the wrap.
func fuzzPackets(data []byte) []capture.Packet {
	if len(data) < 8 {
		return nil
	}
	isn := [2]uint32{binary.BigEndian.Uint32(data), binary.BigEndian.Uint32(data[4:])}
	data = data[8:]
	ends := [2]netip.AddrPort{client, server}
	now := t0
	var pkts []capture.Packet
	for ; len(data) >= 4; data = data[4:] {
		op, a, b, c := data[0], data[1], data[2], data[3]
		d := flows.Dir(op & 1)
		now = now.Add(time.Duration(a) * 10 * time.Millisecond)
		seq := isn[d] + 1 + uint32(b)*3
		ack := isn[1-d] + 1 + uint32(c)*3
		p := capture.Packet{File: "fuzz", Frame: int64(len(pkts) + 1), Time: now,
			Src: ends[d], Dst: ends[1-d], Seq: seq, Ack: ack, Flags: capture.ACK}
		switch (op >> 1) % 8 {
		case 0, 1, 2:
			n := int(c % 64)
			p.PayloadLen = n
			if op&0x80 != 0 {
				n /= 2 // snaplen
			}
			p.Payload = make([]byte, n)
			for i := range p.Payload {
				p.Payload[i] = streamByte(d, seq+uint32(i))
			}
			p.Ack = isn[1-d] + 1
		case 3:
		case 4:
			p.Flags |= capture.FIN
		case 5:
			p.Flags = capture.RST
			if op&0x80 != 0 {
				p.Flags |= capture.ACK
			}
		case 6:
			p.Seq = isn[d]
			p.Flags = capture.SYN
			if d == flows.ServerToClient {
				p.Flags |= capture.ACK
				p.Ack = isn[0] + 1
			}
		case 7:
			// Another connection on a new port or, with a new ISN, port reuse.
			if op&0x80 != 0 {
				ends[0] = netip.AddrPortFrom(client.Addr(), uint16(c)<<8|uint16(b))
			} else {
				isn[0] += uint32(b) << 20
			}
			continue
		}
		pkts = append(pkts, p)
	}
	return pkts
}

// streamCheck follows what a Handler is told about one direction of one
// connection: data and gaps must tile the stream from offset 0 with no
// overlap, and data must be the bytes sent at those offsets.
type streamCheck struct {
	pos      int64
	last     byte
	lastPos  int64
	haveLast bool
	gaps     []flows.Gap
}

type checker struct {
	t      *testing.T
	data   bool // Data calls expected; without them gaps need only ascend
	s      map[*flows.Conn]*[2]streamCheck
	done   map[*flows.Conn]bool
	order  []*flows.Conn
	failed bool
}

func (k *checker) get(c *flows.Conn) *[2]streamCheck {
	if k.done[c] {
		k.fail("event after Done for connection %d", c.ID)
	}
	s := k.s[c]
	if s == nil {
		s = new([2]streamCheck)
		k.s[c] = s
	}
	return s
}

func (k *checker) fail(format string, args ...any) {
	if !k.failed {
		k.t.Errorf(format, args...)
	}
	k.failed = true
}

func (k *checker) Data(c *flows.Conn, ch flows.Chunk) {
	s := &k.get(c)[ch.Dir]
	for i, b := range ch.Data {
		p := s.pos + int64(i)
		if s.haveLast && b != s.last+byte(7*(p-s.lastPos)) {
			k.fail("conn %d dir %d: byte at offset %d is %#x, want %#x", c.ID, ch.Dir, p, b, s.last+byte(7*(p-s.lastPos)))
		}
		s.last, s.lastPos, s.haveLast = b, p, true
	}
	s.pos += int64(len(ch.Data))
}

func (k *checker) Gap(c *flows.Conn, g flows.Gap) {
	s := &k.get(c)[g.Dir]
	if (k.data && g.Offset != s.pos) || g.Offset < s.pos || g.Len <= 0 {
		k.fail("conn %d dir %d: gap %+v does not follow offset %d", c.ID, g.Dir, g, s.pos)
	}
	s.pos = g.Offset + g.Len
	s.gaps = append(s.gaps, g)
}

func (k *checker) Done(c *flows.Conn) {
	s := k.get(c)
	k.done[c] = true
	k.order = append(k.order, c)
	for d := range 2 {
		if k.data && s[d].pos != c.Bytes[d] {
			k.fail("conn %d dir %d: data + gaps cover %d bytes, stream length %d", c.ID, d, s[d].pos, c.Bytes[d])
		}
		var gb int64
		for _, g := range s[d].gaps {
			gb += g.Len
		}
		if gb != c.GapBytes[d] {
			k.fail("conn %d dir %d: gaps reported %d bytes, GapBytes %d", c.ID, d, gb, c.GapBytes[d])
		}
	}
	if c.State() == "" || c.Summary() == "" {
		k.fail("conn %d: empty state or summary", c.ID)
	}
}

func runChecked(t *testing.T, opts flows.Options, pkts []capture.Packet) *checker {
	k := &checker{t: t, data: opts.WantData, s: map[*flows.Conn]*[2]streamCheck{}, done: map[*flows.Conn]bool{}}
	tr := flows.New(opts, k)
	for i := range pkts {
		tr.Add(&pkts[i])
	}
	tr.Flush()
	if st := tr.Stats(); st.Live != 0 || int(st.Conns) != len(k.order) {
		k.fail("after Flush: %+v, %d Done calls", st, len(k.order))
	}
	return k
}

func FuzzTracker(f *testing.F) {
	f.Add([]byte("\xff\xff\xff\xf0\x00\x00\x00\x10" +
		"\x0c\x00\x00\x00\x0d\x01\x00\x00\x06\x00\x00\x00" + // SYN, SYN-ACK, ACK
		"\x00\x01\x00\x20\x00\x01\x10\x20\x00\x01\x05\x3f\x81\x00\x20\x3f" + // data: in order, hole, overlap, cut
		"\x07\x00\x00\x30\x08\x01\x30\x00\x0b\x00\x00\x00")) // ACK past the hole, FIN, RST
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00\x0c\x10\x00\x00\x0a\x00\x00\x00\x0e\x00\x05\x00\x0c\x00\x00\x00"))
	f.Fuzz(checkFuzz)
}

func checkFuzz(t *testing.T, data []byte) {
	pkts := fuzzPackets(data)
	for _, opts := range []flows.Options{
		{WantData: true},
		{WantData: true, MaxBuffer: 50, MaxConns: 1, Linger: time.Second, IdleTimeout: 3 * time.Second, StartOrder: true},
	} {
		with := runChecked(t, opts, pkts)
		opts.WantData = false
		without := runChecked(t, opts, pkts)
		// Sequence space alone must find the same gaps and lengths.
		if len(with.order) != len(without.order) {
			t.Fatalf("- want: %d connections\n-  got: %d without data", len(with.order), len(without.order))
		}
		for i, c := range with.order {
			c2 := without.order[i]
			if a, b := fmt.Sprint(c.Gaps, c.Bytes, c.State()), fmt.Sprint(c2.Gaps, c2.Bytes, c2.State()); a != b {
				t.Fatalf("conn %d differs without data:\n- want: %s\n-  got: %s", c.ID, a, b)
			}
		}
		if opts.StartOrder {
			for i, c := range with.order {
				if c.ID != uint64(i+1) {
					t.Fatalf("StartOrder: Done %d is ID %d", i, c.ID)
				}
			}
		}
	}
}
