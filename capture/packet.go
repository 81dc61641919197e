package capture

import (
	"fmt"
	"net/netip"
	"time"
)

// TCPFlags holds the TCP header flag bits, in wire order (FIN is bit 0).
type TCPFlags uint8

// The TCP flag bits.
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether all bits of m are set in f.
func (f TCPFlags) Has(m TCPFlags) bool { return f&m == m }

// String returns the flags the way tcpdump prints them ("S.", "F.", "R", "P.").
func (f TCPFlags) String() string {
	var b []byte
	for _, x := range []struct {
		f TCPFlags
		c byte
	}{{SYN, 'S'}, {FIN, 'F'}, {PSH, 'P'}, {RST, 'R'}, {URG, 'U'}, {ECE, 'E'}, {CWR, 'W'}} {
		if f&x.f != 0 {
			b = append(b, x.c)
		}
	}
	if f&ACK != 0 {
		b = append(b, '.')
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// Packet is one captured TCP segment with where it came from.
//
// Payload aliases the reader's buffer: it is valid only until the next call
// to Reader.Next. A consumer that keeps bytes must copy them.
type Packet struct {
	File  string    // file name as given ("-" for standard input)
	Frame int64     // 1-based frame number in File, the number Wireshark shows
	Time  time.Time // capture timestamp, from the file

	WireLen int // length of the frame on the wire
	CapLen  int // bytes of the frame that were captured (less than WireLen when snaplen cut it)

	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    TCPFlags
	Window   uint16

	// PayloadLen is the TCP payload length the IP header announces: what was
	// on the wire, whether or not it was captured.
	PayloadLen int
	// Payload is the captured part of the payload; shorter than PayloadLen
	// when the capture's snaplen cut the packet.
	Payload []byte
}

// Truncated reports whether snaplen cut some of this segment's payload.
func (p *Packet) Truncated() bool { return len(p.Payload) < p.PayloadLen }

// Warning is a problem with the input that did not stop reading: a
// truncated or corrupt record, an undecodable packet.
type Warning struct {
	File  string
	Frame int64 // 0 when the problem is not tied to one frame
	Err   error
}

func (w Warning) Error() string {
	if w.Frame == 0 {
		return fmt.Sprintf("%s: %v", w.File, w.Err)
	}
	return fmt.Sprintf("%s: frame %d: %v", w.File, w.Frame, w.Err)
}

func (w Warning) Unwrap() error { return w.Err }
