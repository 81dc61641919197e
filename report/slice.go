package report

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"why502/capture"
	"why502/findings"
	"why502/httpmatch"
)

// A Slice is one small capture to attach to a ticket: the packets of the
// connections of one incident or one finding.
type Slice struct {
	Name  string // file name in the slice directory, ending in .pcapng
	Conns [][2]netip.AddrPort
}

// IncidentSlice names the slice of the n-th incident (1-based).
func IncidentSlice(n int, in *httpmatch.Incident) Slice {
	kind := "incident"
	if in.Hidden {
		kind = "hidden"
	}
	return Slice{Name: fmt.Sprintf("%s-%04d-%s.pcapng", kind, n, in.Cause), Conns: in.Conns}
}

// FindingSlice names the slice of the n-th finding (1-based); a finding
// without connections (capture_coverage) has none.
func FindingSlice(n int, f *findings.Finding) (Slice, bool) {
	if len(f.Conns) == 0 {
		return Slice{}, false
	}
	return Slice{Name: fmt.Sprintf("finding-%02d-%s.pcapng", n, f.Kind), Conns: f.Conns}, true
}

// SliceResult says what WriteSlices wrote.
type SliceResult struct {
	Path    string
	Packets int64
}

type tuple struct{ a, b netip.AddrPort }

func makeTuple(x, y netip.AddrPort) tuple {
	x = netip.AddrPortFrom(x.Addr().Unmap(), x.Port())
	y = netip.AddrPortFrom(y.Addr().Unmap(), y.Port())
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return tuple{x, y}
}

// WriteSlices reads r (a second pass over the same input: the connections
// of an incident are known only once it is decided, after their packets
// went by, and holding every connection's packets until then would make
// memory grow with the traffic) and writes, into dir, one pcapng per
// slice with the packets of its connections. Frames are rebuilt from the
// decoded headers as raw IP (LINKTYPE_RAW): addresses, ports, sequence
// numbers, flags, window and the captured payload are the original ones;
// link headers, IP and TCP options are not kept, and frame numbers are
// the slice's own (the evidence names the original file's).
func WriteSlices(dir string, r *capture.Reader, sl []Slice) ([]SliceResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("slice directory: %w", err)
	}
	want := map[tuple][]int{}
	for i, s := range sl {
		seen := map[tuple]bool{}
		for _, c := range s.Conns {
			k := makeTuple(c[0], c[1])
			if !seen[k] {
				seen[k] = true
				want[k] = append(want[k], i)
			}
		}
	}
	files := make([]*os.File, len(sl))
	writers := make([]*capture.PcapngWriter, len(sl))
	closeAll := func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}
	res := make([]SliceResult, len(sl))
	for i, s := range sl {
		p := filepath.Join(dir, s.Name)
		f, err := os.Create(p)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("slice: %w", err)
		}
		files[i] = f
		w, err := capture.NewPcapngWriter(f, capture.WriterInterface{Name: "why502 slice", Link: 101})
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("slice %s: %w", p, err)
		}
		writers[i] = w
		res[i].Path = p
	}
	var buf []byte
	var readErr error
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err // everything before it is written
			break
		}
		idx := want[makeTuple(p.Src, p.Dst)]
		if len(idx) == 0 {
			continue
		}
		var wire int
		buf, wire = rebuild(buf[:0], p)
		for _, i := range idx {
			if err := writers[i].WritePacket(0, p.Time, buf, wire); err != nil {
				closeAll()
				return nil, fmt.Errorf("slice %s: %w", res[i].Path, err)
			}
		}
	}
	var errs []string
	for i, w := range writers {
		res[i].Packets = w.Packets()
		if err := w.Flush(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", res[i].Path, err))
		}
		if err := files[i].Close(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", res[i].Path, err))
		}
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("slice: %s", strings.Join(errs, "; "))
	}
	return res, readErr
}

// rebuild appends p as an IPv4 or IPv6 packet to b and returns it with its
// length on the wire (the IP length fields say the wire length, as in the
// original when snaplen cut the payload).
func rebuild(b []byte, p *capture.Packet) ([]byte, int) {
	be := binary.BigEndian
	src, dst := p.Src.Addr().Unmap(), p.Dst.Addr().Unmap()
	tcpLen := 20 + p.PayloadLen
	var ipLen int
	if src.Is4() && dst.Is4() {
		ipLen = 20
		b = append(b, 0x45, 0)
		b = be.AppendUint16(b, uint16(min(ipLen+tcpLen, 0xffff)))
		b = append(b, 0, 0, 0x40, 0, 64, 6, 0, 0) // id, DF, TTL, TCP, checksum
		s4, d4 := src.As4(), dst.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
		be.PutUint16(b[10:], fold(sum16(0, b[:20])))
	} else {
		ipLen = 40
		b = append(b, 0x60, 0, 0, 0)
		b = be.AppendUint16(b, uint16(min(tcpLen, 0xffff)))
		b = append(b, 6, 64)
		s16, d16 := src.As16(), dst.As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
	}
	t := len(b)
	b = be.AppendUint16(b, p.Src.Port())
	b = be.AppendUint16(b, p.Dst.Port())
	b = be.AppendUint32(b, p.Seq)
	b = be.AppendUint32(b, p.Ack)
	b = append(b, 5<<4, byte(p.Flags))
	b = be.AppendUint16(b, p.Window)
	b = append(b, 0, 0, 0, 0) // checksum, urgent pointer
	b = append(b, p.Payload...)
	s := sum16(0, src.AsSlice())
	s = sum16(s, dst.AsSlice())
	s += 6 + uint32(tcpLen)
	s = sum16(s, b[t:])
	be.PutUint16(b[t+16:], fold(s))
	return b, ipLen + tcpLen
}

func sum16(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
