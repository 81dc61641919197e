package capture

import (
	"encoding/binary"
	"net/netip"
)

// Link types decoded, by their LINKTYPE_ number in pcap and pcapng files
// (https://www.tcpdump.org/linktypes.html).
const (
	linkNull     = 0   // BSD loopback: 4-byte address family in the capturing host's byte order
	linkEthernet = 1   // Ethernet II, with 802.1Q / 802.1ad (QinQ) tags
	linkRaw12    = 12  // raw IP (DLT_RAW on most BSDs, seen in old files)
	linkRaw      = 101 // raw IP
	linkLoop     = 108 // OpenBSD loopback: like Null, but in network byte order
	linkSLL      = 113 // Linux cooked capture v1 (tcpdump -i any, older libpcap)
	linkIPv4     = 228 // raw IPv4
	linkIPv6     = 229 // raw IPv6
	linkSLL2     = 276 // Linux cooked capture v2 (tcpdump -i any, libpcap >= 1.10)
)

const supportedLinks = "Ethernet, Linux SLL, Linux SLL2, BSD loopback/Null, raw IP"

func linkSupported(link uint32) bool {
	switch link {
	case linkNull, linkEthernet, linkRaw12, linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2:
		return true
	}
	return false
}

// result says what decodeFrame made of a frame.
type result uint8

const (
	resTCP       result = iota // p holds a TCP segment
	resNonTCP                  // a valid frame that is not TCP over IP (ARP, UDP, ICMP...)
	resFragment                // an IP fragment: not reassembled, not decoded
	resMalformed               // headers that contradict themselves or were not captured
	resBadLink                 // a link type this package does not decode
)

const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherDot1Q = 0x8100
	etherQinQ  = 0x88a8
	etherQinQ2 = 0x9100 // pre-standard QinQ outer tag

	ipProtoTCP = 6
)

// decodeFrame decodes one frame of the given link type down to TCP and fills
// the TCP fields of p (addresses, ports, sequence numbers, flags, window,
// payload). p.Payload aliases frame. wireLen is the frame's length on the
// wire, used only when an IPv4 header says total length 0 (segmentation
// offload on the capturing host). When the result is resMalformed, why says
// what was wrong; it is a constant, so the hot path does not allocate.
//
// cut reports that the snapshot length cut the IP packet short.
func decodeFrame(link uint32, frame []byte, wireLen int, p *Packet) (res result, cut bool, why string) {
	var etherType uint16
	var b []byte
	switch link {
	case linkEthernet:
		if len(frame) < 14 {
			return resMalformed, false, "Ethernet header not captured"
		}
		etherType, b = binary.BigEndian.Uint16(frame[12:14]), frame[14:]
	case linkSLL:
		if len(frame) < 16 {
			return resMalformed, false, "Linux cooked (SLL) header not captured"
		}
		etherType, b = binary.BigEndian.Uint16(frame[14:16]), frame[16:]
	case linkSLL2:
		if len(frame) < 20 {
			return resMalformed, false, "Linux cooked (SLL2) header not captured"
		}
		etherType, b = binary.BigEndian.Uint16(frame[0:2]), frame[20:]
	case linkNull, linkLoop:
		if len(frame) < 4 {
			return resMalformed, false, "loopback header not captured"
		}
		// The family is in the capturing host's byte order (Null) or
		// network order (Loop, and some Null writers): try both.
		af := binary.LittleEndian.Uint32(frame)
		if af > 0xffff {
			af = binary.BigEndian.Uint32(frame)
		}
		switch af {
		case 2:
			etherType = etherIPv4
		case 24, 28, 30: // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
			etherType = etherIPv6
		default:
			return resNonTCP, false, ""
		}
		b = frame[4:]
	case linkRaw, linkRaw12, linkIPv4, linkIPv6:
		if len(frame) < 1 {
			return resMalformed, false, "empty raw IP frame"
		}
		switch frame[0] >> 4 {
		case 4:
			etherType = etherIPv4
		case 6:
			etherType = etherIPv6
		default:
			return resMalformed, false, "raw IP frame with IP version neither 4 nor 6"
		}
		b = frame
	default:
		return resBadLink, false, ""
	}
	// VLAN tags; also after SLL, where the kernel may leave them in place.
	for etherType == etherDot1Q || etherType == etherQinQ || etherType == etherQinQ2 {
		if len(b) < 4 {
			return resMalformed, false, "VLAN tag not captured"
		}
		etherType, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
	}
	linkLen := len(frame) - len(b)
	switch etherType {
	case etherIPv4:
		return decodeIPv4(b, wireLen-linkLen, p)
	case etherIPv6:
		return decodeIPv6(b, wireLen-linkLen, p)
	}
	return resNonTCP, false, ""
}

// decodeIPv4 decodes an IPv4 packet; ipWire is its length on the wire as the
// frame length tells it, used when the header's total length is 0.
func decodeIPv4(b []byte, ipWire int, p *Packet) (result, bool, string) {
	if len(b) < 20 {
		return resMalformed, false, "IPv4 header not captured"
	}
	if b[0]>>4 != 4 {
		return resMalformed, false, "IPv4 header with a version other than 4"
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return resMalformed, false, "IPv4 header length below 20"
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total == 0 {
		// Sent with TCP segmentation offload and captured on the sender
		// before the NIC filled in the length: take it from the frame.
		total = ipWire
	}
	if total < ihl {
		return resMalformed, false, "IPv4 total length shorter than its header"
	}
	if total > ipWire {
		// More than the frame had on the wire: not a snaplen cut but a
		// lie, which would otherwise become a gap of up to 64 KiB
		// blamed on the snapshot length.
		return resMalformed, false, "IPv4 total length longer than the frame on the wire"
	}
	if len(b) < ihl {
		return resMalformed, false, "IPv4 options not captured"
	}
	if ff := binary.BigEndian.Uint16(b[6:8]); ff&0x3fff != 0 { // MF or fragment offset
		return resFragment, false, ""
	}
	if b[9] != ipProtoTCP {
		return resNonTCP, false, ""
	}
	cut := len(b) < total
	if !cut {
		b = b[:total] // drop Ethernet padding and trailers
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return decodeTCP(b[ihl:], total-ihl, src, dst, cut, p)
}

// IPv6 extension headers skipped on the way to TCP.
const (
	ip6HopByHop = 0
	ip6Routing  = 43
	ip6Fragment = 44
	ip6AH       = 51
	ip6NoNext   = 59
	ip6DestOpts = 60
)

func decodeIPv6(b []byte, ipWire int, p *Packet) (result, bool, string) {
	if len(b) < 40 {
		return resMalformed, false, "IPv6 header not captured"
	}
	if b[0]>>4 != 6 {
		return resMalformed, false, "IPv6 header with a version other than 6"
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if plen == 0 {
		// Jumbogram or offload: trust what was captured.
		plen = len(b) - 40
	}
	if 40+plen > ipWire {
		return resMalformed, false, "IPv6 payload length longer than the frame on the wire"
	}
	next := b[6]
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	cut := len(b)-40 < plen
	if cut {
		b = b[40:]
	} else {
		b = b[40 : 40+plen]
	}
	for {
		var n int
		switch next {
		case ipProtoTCP:
			return decodeTCP(b, plen, src, dst, cut, p)
		case ip6HopByHop, ip6Routing, ip6DestOpts:
			if len(b) < 2 {
				return resMalformed, false, "IPv6 extension header not captured"
			}
			n = (int(b[1]) + 1) * 8
		case ip6AH:
			if len(b) < 2 {
				return resMalformed, false, "IPv6 authentication header not captured"
			}
			n = (int(b[1]) + 2) * 4
		case ip6Fragment:
			if len(b) < 8 {
				return resMalformed, false, "IPv6 fragment header not captured"
			}
			// An atomic fragment (offset 0, no more fragments) is whole.
			if binary.BigEndian.Uint16(b[2:4])&0xfff9 != 0 {
				return resFragment, false, ""
			}
			n = 8
		default:
			return resNonTCP, false, ""
		}
		if n > len(b) || n > plen {
			return resMalformed, false, "IPv6 extension header longer than the packet"
		}
		next, b, plen = b[0], b[n:], plen-n
	}
}

// decodeTCP decodes the TCP header in b; ipPayload is the TCP segment length
// the IP header announces.
func decodeTCP(b []byte, ipPayload int, src, dst netip.Addr, cut bool, p *Packet) (result, bool, string) {
	if len(b) < 20 {
		return resMalformed, cut, "TCP header not captured (snapshot length too small?)"
	}
	hl := int(b[12]>>4) * 4
	if hl < 20 {
		return resMalformed, cut, "TCP data offset below 20 bytes"
	}
	if hl > ipPayload {
		return resMalformed, cut, "TCP header longer than the IP payload"
	}
	p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:2]))
	p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:4]))
	p.Seq = binary.BigEndian.Uint32(b[4:8])
	p.Ack = binary.BigEndian.Uint32(b[8:12])
	p.Flags = TCPFlags(b[13])
	p.Window = binary.BigEndian.Uint16(b[14:16])
	p.PayloadLen = ipPayload - hl
	if hl <= len(b) {
		p.Payload = b[hl:len(b):len(b)]
	} else {
		p.Payload = b[len(b):] // options cut by the snapshot length
	}
	return resTCP, cut, ""
}
