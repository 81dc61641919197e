package flowtest

import (
	"bufio"
	"encoding/binary"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"why502/capture"
	"why502/capture/capturetest"
)

// Flood describes an adversarial capture: connections that never close,
// then a SYN flood, with real exchanges (Extra) merged in by time. It is
// written as a pcap stream (WritePcap) so that a test can pipe millions of
// connections through the reader without holding the file in memory.
type Flood struct {
	Start  time.Time
	Target netip.AddrPort // the address the SYNs and the open connections go to

	// Open connections complete their handshake at Start (one every
	// microsecond) and are never heard of again.
	Open int
	// HalfOpen SYNs, each from its own address and port, spread evenly
	// over Span after the open connections.
	HalfOpen int
	Span     time.Duration

	// Extra packets (in time order; Merge gives them so) are interleaved
	// by time: the exchanges that must still be found.
	Extra []capture.Packet
}

// WritePcap writes the capture (Ethernet, microsecond timestamps) to w.
func (f Flood) WritePcap(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		return err
	}
	extra := f.Extra
	var frame []byte
	write := func(t time.Time, data []byte) error {
		// Extras due before t go first: the file is in time order.
		for len(extra) > 0 && extra[0].Time.Before(t) {
			p := &extra[0]
			d := capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{
				Src: p.Src, Dst: p.Dst, Seq: p.Seq, Ack: p.Ack, Flags: p.Flags, Window: p.Window, Payload: p.Payload,
			})
			ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(d), Length: len(d)}
			if err := pw.WritePacket(ci, d); err != nil {
				return err
			}
			extra = extra[1:]
		}
		if data == nil {
			return nil
		}
		return pw.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(data), Length: len(data)}, data)
	}
	// seg fills frame with a segment of the flood; checksums are left
	// zero (the reader does not check them, and computing them for
	// millions of packets would dominate the test's time).
	seg := func(src, dst netip.AddrPort, seq, ack uint32, flags capture.TCPFlags) []byte {
		if frame == nil {
			frame = capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{Src: src, Dst: dst})
		}
		ip := frame[14:]
		s4, d4 := src.Addr().As4(), dst.Addr().As4()
		copy(ip[12:16], s4[:])
		copy(ip[16:20], d4[:])
		tcp := ip[20:]
		binary.BigEndian.PutUint16(tcp[0:], src.Port())
		binary.BigEndian.PutUint16(tcp[2:], dst.Port())
		binary.BigEndian.PutUint32(tcp[4:], seq)
		binary.BigEndian.PutUint32(tcp[8:], ack)
		tcp[13] = byte(flags)
		return frame
	}
	t := f.Start
	for i := range f.Open {
		c := floodAddr(10, 200, i)
		isn, sisn := uint32(i)*7919, uint32(i)*104729
		steps := []struct {
			src, dst netip.AddrPort
			seq, ack uint32
			fl       capture.TCPFlags
		}{
			{c, f.Target, isn, 0, capture.SYN},
			{f.Target, c, sisn, isn + 1, capture.SYN | capture.ACK},
			{c, f.Target, isn + 1, sisn + 1, capture.ACK},
		}
		for _, s := range steps {
			if err := write(t, seg(s.src, s.dst, s.seq, s.ack, s.fl)); err != nil {
				return err
			}
		}
		t = t.Add(time.Microsecond)
	}
	var step time.Duration
	if f.HalfOpen > 0 {
		step = f.Span / time.Duration(f.HalfOpen)
	}
	for i := range f.HalfOpen {
		c := floodAddr(172, 16, i)
		if err := write(t, seg(c, f.Target, uint32(i)*2654435761, 0, capture.SYN)); err != nil {
			return err
		}
		t = t.Add(step)
	}
	if err := write(time.Unix(1<<40, 0), nil); err != nil { // the extras left
		return err
	}
	return bw.Flush()
}

// floodAddr is the i-th client of a flood: 1024 ports per address, in
// a.b.0.0/16.
func floodAddr(a, b byte, i int) netip.AddrPort {
	n := i >> 10
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{a, b, byte(n >> 8), byte(n)}), uint16(20000+i&1023))
}
