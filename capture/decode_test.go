package capture_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

func TestDecode(t *testing.T) {
	s4, s6 := seg(capture.PSH|capture.ACK, 100), seg6(capture.FIN|capture.ACK, 10)
	tcp4, tcp6 := capturetest.TCP(s4), capturetest.TCP(s6)
	a4, b4 := s4.Src.Addr(), s4.Dst.Addr()
	a6, b6 := s6.Src.Addr(), s6.Dst.Addr()
	ip4 := capturetest.IP(s4)
	padded := append(capturetest.Ethernet(capturetest.IP(seg(capture.ACK, 0))), make([]byte, 6)...)
	tso := capturetest.Ethernet(bytes.Clone(ip4))
	binary.BigEndian.PutUint16(tso[14+2:], 0) // total length 0: offloaded segment
	ext := capturetest.IPv6(a6, b6, 0,        // hop-by-hop, routing, dest opts, atomic fragment, AH
		capturetest.IPv6Ext(43, capturetest.IPv6Ext(60, capturetest.IPv6Ext(44, capturetest.IPv6Ext(51,
			append([]byte{6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, tcp6...))))))
	withOpts := seg(capture.SYN, 0)
	withOpts.Options = []byte{2, 4, 5, 0xb4, 1, 3, 3, 7}
	tests := []struct {
		name  string
		link  uint32
		frame []byte
		wire  int // 0: len(frame)
		want  string
	}{
		{"ethernet", 1, capturetest.Ethernet(ip4), 0, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=100/100"},
		{"802.1Q", 1, capturetest.Ethernet(ip4, 100), 0, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=100/100"},
		{"QinQ 88a8", 1, capturetest.Ethernet(ip4, 100, 200), 0, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=100/100"},
		{"QinQ 9100", 1, bytes.Replace(capturetest.Ethernet(ip4, 100, 200), []byte{0x88, 0xa8}, []byte{0x91, 0x00}, 1), 0, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=100/100"},
		{"ethernet padding ignored", 1, padded, 0, "tcp 10.0.0.1:40000>10.0.0.2:80 . len=0/0"},
		{"TSO total length 0", 1, tso, 0, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=100/100"},
		{"TCP options", 1, capturetest.Frame(layers.LinkTypeEthernet, withOpts), 0, "tcp 10.0.0.1:40000>10.0.0.2:80 S len=0/0"},
		{"ipv6 extension headers", 1, capturetest.Ethernet(ext), 0, "tcp [2001:db8::1]:40000>[2001:db8::2]:443 F. len=10/10"},
		{"null big-endian", 0, capturetest.Null(ip4, binary.BigEndian), 0, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=100/100"},
		{"null AF_INET6 24", 0, append([]byte{24, 0, 0, 0}, capturetest.IP(s6)...), 0, "tcp [2001:db8::1]:40000>[2001:db8::2]:443 F. len=10/10"},
		{"null AF_INET6 28", 0, append([]byte{0, 0, 0, 28}, capturetest.IP(s6)...), 0, "tcp [2001:db8::1]:40000>[2001:db8::2]:443 F. len=10/10"},
		{"snaplen cut payload", 1, capturetest.Ethernet(ip4)[:14+20+20+30], 14 + 20 + 20 + 100, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=30/100 cut"},
		{"snaplen cut options", 1, capturetest.Frame(layers.LinkTypeEthernet, withOpts)[:14+20+22], len(capturetest.Frame(layers.LinkTypeEthernet, withOpts)), "tcp 10.0.0.1:40000>10.0.0.2:80 S len=0/0 cut"},
		{"snaplen cut TCP header", 1, capturetest.Ethernet(ip4)[:14+20+19], 14 + 20 + 20 + 100, "malformed: TCP header not captured (snapshot length too small?)"},
		{"absurd IPv4 total length, frame not cut", 1, capturetest.Ethernet(ip4)[:14+20+20+30], 0, "malformed: IPv4 total length longer than the frame on the wire"},
		{"absurd IPv6 payload length, frame not cut", 1, capturetest.Ethernet(capturetest.IP(s6))[:14+40+20], 0, "malformed: IPv6 payload length longer than the frame on the wire"},
		{"ipv4 fragment MF", 1, capturetest.Ethernet(capturetest.IPv4(a4, b4, 6, 0x2000, tcp4)), 0, "fragment"},
		{"ipv4 fragment offset", 1, capturetest.Ethernet(capturetest.IPv4(a4, b4, 6, 0x0010, tcp4[:40])), 0, "fragment"},
		{"ipv4 DF is not a fragment", 1, capturetest.Ethernet(capturetest.IPv4(a4, b4, 6, 0x4000, tcp4)), 0, "tcp 10.0.0.1:40000>10.0.0.2:80 P. len=100/100"},
		{"ipv6 fragment", 1, capturetest.Ethernet(capturetest.IPv6(a6, b6, 44, []byte{6, 0, 0, 1, 0, 0, 0, 1})), 0, "fragment"},
		{"udp", 1, capturetest.Ethernet(capturetest.IPv4(a4, b4, 17, 0, make([]byte, 8))), 0, "nontcp"},
		{"arp", 1, append(capturetest.Ethernet(nil)[:12:12], 8, 6, 0, 1), 0, "nontcp"},
		{"short ethernet", 1, []byte{1, 2, 3}, 0, "malformed: Ethernet header not captured"},
		{"bad IHL", 1, append(capturetest.Ethernet(nil)[:14:14], 0x41, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8), 0, "malformed: IPv4 header length below 20"},
		{"data offset too big", 101, func() []byte { b := capturetest.IP(seg(capture.ACK, 0)); b[20+12] = 0xf0; return b }(), 0, "malformed: TCP header longer than the IP payload"},
		{"unsupported link", 147, ip4, 0, "badlink"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p capture.Packet
			wire := tc.wire
			if wire == 0 {
				wire = len(tc.frame)
			}
			res, cut, why := capture.DecodeFrame(tc.link, tc.frame, wire, &p)
			got := res
			switch res {
			case "tcp":
				got = fmt.Sprintf("tcp %v>%v %v len=%d/%d", p.Src, p.Dst, p.Flags, len(p.Payload), p.PayloadLen)
				if cut {
					got += " cut"
				}
			case "malformed":
				got += ": " + why
			}
			if got != tc.want {
				t.Errorf("\n- want: %s\n-  got: %s", tc.want, got)
			}
		})
	}
}

func TestFragmentsAndTruncationCounted(t *testing.T) {
	s := seg(capture.ACK, 100)
	a, b := s.Src.Addr(), s.Dst.Addr()
	frag := capturetest.Ethernet(capturetest.IPv4(a, b, 6, 0x2000, capturetest.TCP(s)))
	full := capturetest.Frame(layers.LinkTypeEthernet, s)
	file := capturetest.Pcap(layers.LinkTypeEthernet, rec(0, frag), rec(1, frag),
		capturetest.Record{Time: t0, Data: full, Snaplen: 60}, rec(3, []byte{1}))
	g := readAll(t, []capture.Source{src("f", file)}, capture.Options{})
	want := "frames=4 tcp=1 frag=2 trunc=1 undecodable=1 warnings=[f: frame 1: IP fragments seen; they are counted, not reassembled, and their TCP segments are not analysed f: frame 4: undecodable frame: Ethernet header not captured]"
	gotS := fmt.Sprintf("frames=%d tcp=%d frag=%d trunc=%d undecodable=%d warnings=%v", g.stats.Frames, g.stats.TCP, g.stats.Fragments, g.stats.Truncated, g.stats.Undecodable, g.warnings)
	if gotS != want {
		t.Errorf("\n- want: %s\n-  got: %s", want, gotS)
	}
	if p := g.pkts[0]; p.CapLen != 60 || p.WireLen != len(full) || !p.Truncated() || p.PayloadLen != 100 || len(p.Payload) != 6 {
		t.Errorf("truncated packet: %+v", p)
	}
}

// TestDecodeMatchesGopacket decodes random frames of every link type with
// decodeFrame and with gopacket's layers, and compares the TCP fields.
func TestDecodeMatchesGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		link := allLinks[i%len(allLinks)]
		s := randomSegment(rng, link)
		frame := capturetest.Frame(link, s)
		if link == layers.LinkTypeEthernet && rng.IntN(3) == 0 {
			frame = capturetest.Ethernet(capturetest.IP(s), uint16(rng.IntN(4096)))
		}
		var p capture.Packet
		res, _, why := capture.DecodeFrame(uint32(link), frame, len(frame), &p)
		if res != "tcp" {
			t.Fatalf("frame %d (%v): %s %s", i, link, res, why)
		}
		decoder := gopacket.Decoder(link)
		if link == 12 || link == layers.LinkTypeIPv4 || link == layers.LinkTypeIPv6 {
			decoder = layers.LinkTypeRaw
		}
		gp := gopacket.NewPacket(frame, decoder, gopacket.Default)
		tl, _ := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tl == nil || gp.NetworkLayer() == nil {
			t.Fatalf("frame %d (%v): gopacket found no TCP: %v", i, link, gp)
		}
		srcIP, _ := netip.AddrFromSlice(gp.NetworkLayer().NetworkFlow().Src().Raw())
		dstIP, _ := netip.AddrFromSlice(gp.NetworkLayer().NetworkFlow().Dst().Raw())
		want := fmt.Sprintf("%v:%d>%v:%d seq=%d ack=%d flags=%d win=%d payload=%x",
			srcIP, tl.SrcPort, dstIP, tl.DstPort, tl.Seq, tl.Ack, gopacketFlags(tl), tl.Window, tl.Payload)
		got := fmt.Sprintf("%v:%d>%v:%d seq=%d ack=%d flags=%d win=%d payload=%x",
			p.Src.Addr(), p.Src.Port(), p.Dst.Addr(), p.Dst.Port(), p.Seq, p.Ack, p.Flags, p.Window, p.Payload)
		if got != want {
			t.Fatalf("frame %d (%v):\n- want: %s\n-  got: %s", i, link, want, got)
		}
	}
}

func randomSegment(rng *rand.Rand, link layers.LinkType) capturetest.Segment {
	addr := func() netip.Addr {
		if link == layers.LinkTypeIPv6 || link != layers.LinkTypeIPv4 && rng.IntN(2) == 0 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[0] = 0x20
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	src := addr()
	dst := addr()
	if src.Is4() != dst.Is4() {
		dst = src
	}
	s := capturetest.Segment{
		Src: netip.AddrPortFrom(src, uint16(rng.Uint32())), Dst: netip.AddrPortFrom(dst, uint16(rng.Uint32())),
		Seq: rng.Uint32(), Ack: rng.Uint32(), Flags: capture.TCPFlags(rng.Uint32()), Window: uint16(rng.Uint32()),
		Payload: make([]byte, rng.IntN(1400)),
	}
	for i := range s.Payload {
		s.Payload[i] = byte(rng.Uint32())
	}
	if rng.IntN(2) == 0 {
		s.Options = make([]byte, 4*rng.IntN(10))
		for i := range s.Options {
			s.Options[i] = 1 // NOP
		}
	}
	return s
}

func gopacketFlags(t *layers.TCP) capture.TCPFlags {
	var f capture.TCPFlags
	for _, x := range []struct {
		on bool
		f  capture.TCPFlags
	}{{t.FIN, capture.FIN}, {t.SYN, capture.SYN}, {t.RST, capture.RST}, {t.PSH, capture.PSH},
		{t.ACK, capture.ACK}, {t.URG, capture.URG}, {t.ECE, capture.ECE}, {t.CWR, capture.CWR}} {
		if x.on {
			f |= x.f
		}
	}
	return f
}
