// Package capturetest builds TCP frames and pcap/pcapng files for tests, so
// that tests of why502's packages can describe their input in a few lines
// instead of keeping binary captures for cases real stacks rarely produce.
package capturetest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"why502/capture"
)

// Segment describes one TCP segment. Src and Dst must be of the same
// address family; it selects IPv4 or IPv6.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    capture.TCPFlags
	Window   uint16
	Options  []byte // raw TCP options, padded with zeros to a multiple of 4
	Payload  []byte
}

// TCP returns the TCP header and payload of s, with a valid checksum.
func TCP(s Segment) []byte {
	opts := len(s.Options) + (4-len(s.Options)%4)%4
	b := make([]byte, 20+opts+len(s.Payload))
	binary.BigEndian.PutUint16(b[0:], s.Src.Port())
	binary.BigEndian.PutUint16(b[2:], s.Dst.Port())
	binary.BigEndian.PutUint32(b[4:], s.Seq)
	binary.BigEndian.PutUint32(b[8:], s.Ack)
	b[12] = byte((20+opts)/4) << 4
	b[13] = byte(s.Flags)
	binary.BigEndian.PutUint16(b[14:], s.Window)
	copy(b[20:], s.Options)
	copy(b[20+opts:], s.Payload)
	// Checksum over the pseudo-header.
	var sum uint32
	src, dst := s.Src.Addr().AsSlice(), s.Dst.Addr().AsSlice()
	sum = add(sum, src)
	sum = add(sum, dst)
	sum += 6 + uint32(len(b))
	sum = add(sum, b)
	binary.BigEndian.PutUint16(b[16:], fold(sum))
	return b
}

// IP returns s as an IPv4 or IPv6 packet.
func IP(s Segment) []byte {
	if s.Src.Addr().Is4() {
		return IPv4(s.Src.Addr(), s.Dst.Addr(), 6, 0, TCP(s))
	}
	return IPv6(s.Src.Addr(), s.Dst.Addr(), 6, TCP(s))
}

// IPv4 returns an IPv4 packet carrying payload as protocol proto. flagsFrag
// is the flags and fragment offset field (0x2000 is "more fragments").
func IPv4(src, dst netip.Addr, proto byte, flagsFrag uint16, payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[6:], flagsFrag)
	b[8] = 64
	b[9] = proto
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:], s4[:])
	copy(b[16:], d4[:])
	binary.BigEndian.PutUint16(b[10:], fold(add(0, b[:20])))
	copy(b[20:], payload)
	return b
}

// IPv6 returns an IPv6 packet whose first next-header is next; payload
// starts with any extension headers the caller built (see IPv6Ext).
func IPv6(src, dst netip.Addr, next byte, payload []byte) []byte {
	b := make([]byte, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = next
	b[7] = 64
	s16, d16 := src.As16(), dst.As16()
	copy(b[8:], s16[:])
	copy(b[24:], d16[:])
	copy(b[40:], payload)
	return b
}

// IPv6Ext returns an 8-byte extension header (hop-by-hop, routing,
// destination options or fragment) followed by rest, whose protocol is next.
func IPv6Ext(next byte, rest []byte) []byte {
	return append([]byte{next, 0, 0, 0, 0, 0, 0, 0}, rest...)
}

// Ethernet wraps ip in an Ethernet II header, with one 802.1Q tag per vlan
// given (the first outermost, tagged 0x88a8 when there are several, as QinQ).
func Ethernet(ip []byte, vlans ...uint16) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}
	for i, v := range vlans {
		tpid := uint16(0x8100)
		if len(vlans) > 1 && i == 0 {
			tpid = 0x88a8
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint16(b, etherType(ip))
	return append(b, ip...)
}

func etherType(ip []byte) uint16 {
	if len(ip) > 0 && ip[0]>>4 == 6 {
		return 0x86dd
	}
	return 0x0800
}

// SLL wraps ip in a Linux cooked capture (v1) header.
func SLL(ip []byte) []byte {
	b := []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}
	b = binary.BigEndian.AppendUint16(b, etherType(ip))
	return append(b, ip...)
}

// SLL2 wraps ip in a Linux cooked capture v2 header, as tcpdump -i any writes.
func SLL2(ip []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, etherType(ip))
	b = append(b, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0)
	return append(b, ip...)
}

// Null wraps ip in a BSD loopback header with the address family in the
// given byte order (AF_INET6 as on Darwin, 30).
func Null(ip []byte, order binary.AppendByteOrder) []byte {
	af := uint32(2)
	if etherType(ip) == 0x86dd {
		af = 30
	}
	return append(order.AppendUint32(nil, af), ip...)
}

// Frame wraps s for the link type: Ethernet, LinuxSLL, LinuxSLL2, Null
// (little-endian family), Loop, Raw, IPv4 or IPv6.
func Frame(link layers.LinkType, s Segment) []byte {
	ip := IP(s)
	switch link {
	case layers.LinkTypeEthernet:
		return Ethernet(ip)
	case layers.LinkTypeLinuxSLL:
		return SLL(ip)
	case layers.LinkTypeLinuxSLL2:
		return SLL2(ip)
	case layers.LinkTypeNull:
		return Null(ip, binary.LittleEndian)
	case layers.LinkTypeLoop:
		return Null(ip, binary.BigEndian)
	}
	return ip
}

// Record is one frame to write into a capture file.
type Record struct {
	Time    time.Time
	Data    []byte
	WireLen int             // 0 means len(Data)
	Link    layers.LinkType // pcapng: the frame's link type if not Pcapng's; pcap ignores it
	Snaplen int             // pcap/pcapng: cut Data to this many bytes (0: no cut)
}

func (r Record) info() (gopacket.CaptureInfo, []byte) {
	data := r.Data
	if r.Snaplen > 0 && len(data) > r.Snaplen {
		data = data[:r.Snaplen]
	}
	wire := r.WireLen
	if wire == 0 {
		wire = len(r.Data)
	}
	return gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(data), Length: wire}, data
}

// Pcap returns a pcap file (microsecond timestamps, little-endian) of link
// type link holding recs.
func Pcap(link layers.LinkType, recs ...Record) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	writePcap(w, link, recs)
	return buf.Bytes()
}

// PcapNanos is Pcap with nanosecond timestamps.
func PcapNanos(link layers.LinkType, recs ...Record) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	writePcap(w, link, recs)
	return buf.Bytes()
}

func writePcap(w *pcapgo.Writer, link layers.LinkType, recs []Record) {
	if err := w.WriteFileHeader(262144, link); err != nil {
		panic(err) // writes to a bytes.Buffer do not fail
	}
	for _, r := range recs {
		ci, data := r.info()
		if err := w.WritePacket(ci, data); err != nil {
			panic(err)
		}
	}
}

// Pcapng returns a pcapng file with one interface per distinct link type
// among recs, in order of first use. A record's Link, when not 0, overrides
// link, so one file can mix link types.
func Pcapng(link layers.LinkType, recs ...Record) []byte {
	def := link
	var buf bytes.Buffer
	links := map[layers.LinkType]int{}
	var w *pcapgo.NgWriter
	for _, r := range recs {
		link := def
		if r.Link != 0 {
			link = r.Link
		}
		id, ok := links[link]
		if !ok {
			intf := pcapgo.NgInterface{LinkType: link, SnapLength: 262144, TimestampResolution: 9}
			var err error
			if w == nil {
				w, err = pcapgo.NewNgWriterInterface(&buf, intf, pcapgo.DefaultNgWriterOptions)
			} else {
				id, err = w.AddInterface(intf)
			}
			if err != nil {
				panic(err)
			}
			links[link] = id
		}
		ci, data := r.info()
		ci.InterfaceIndex = id
		if err := w.WritePacket(ci, data); err != nil {
			panic(err)
		}
	}
	if w == nil {
		var err error
		if w, err = pcapgo.NewNgWriter(&buf, def); err != nil {
			panic(err)
		}
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func add(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
