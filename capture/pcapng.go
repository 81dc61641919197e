package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"why502/internal/timecmp"
)

// pcapng block types (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html).
const (
	ngSHB = 0x0a0d0d0a // section header
	ngIDB = 1          // interface description
	ngOPB = 2          // packet block (obsolete)
	ngSPB = 3          // simple packet
	ngEPB = 6          // enhanced packet

	ngByteOrderMagic = 0x1a2b3c4d
	// maxNgMeta bounds the blocks read whole (section and interface
	// headers, which hold only a few options).
	maxNgMeta = 1 << 20
)

// ngInterface is what the reader needs from an interface description.
type ngInterface struct {
	link    uint32
	snaplen uint32
	units   uint64 // timestamp units per second
	offset  int64  // seconds added to every timestamp (if_tsoffset)
}

// pcapngReader reads pcapng: several sections, byte orders and interfaces
// with different link types and timestamp resolutions in one file.
//
// It is written here rather than taken from pcapgo.NgReader because that
// reader does not check a packet's captured length against its block
// length (a corrupt length makes it read the rest of the file into memory)
// and allocates per packet for link types above 255 in mixed-link mode.
type pcapngReader struct {
	r      *bufio.Reader
	order  binary.ByteOrder
	ifaces []ngInterface
	frame  int64
	lastTS time.Time // for simple packet blocks, which carry no timestamp
	hdr    [28]byte
	buf    []byte
	meta   []byte
}

func newPcapngReader(r *bufio.Reader) (*pcapngReader, error) {
	n := &pcapngReader{r: r, buf: make([]byte, 0, growStep)}
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcapng section header cut short: %w", err)
	}
	if binary.LittleEndian.Uint32(h[:4]) != ngSHB {
		return nil, errors.New("not a pcapng file")
	}
	if err := n.section(h[4:8]); err != nil {
		return nil, err
	}
	return n, nil
}

// section reads the rest of a section header whose length field is lenField
// (byte order still unknown).
func (n *pcapngReader) section(lenField []byte) error {
	var bom [4]byte
	if _, err := io.ReadFull(n.r, bom[:]); err != nil {
		return fmt.Errorf("pcapng section header cut short: %w", err)
	}
	switch {
	case binary.LittleEndian.Uint32(bom[:]) == ngByteOrderMagic:
		n.order = binary.LittleEndian
	case binary.BigEndian.Uint32(bom[:]) == ngByteOrderMagic:
		n.order = binary.BigEndian
	default:
		return errors.New("pcapng section header with a bad byte-order magic")
	}
	length := n.order.Uint32(lenField)
	if length < 28 || length%4 != 0 || length > maxNgMeta {
		return fmt.Errorf("pcapng section header with a bad length %d", length)
	}
	body, err := n.readMeta(int(length) - 12)
	if err != nil {
		return err
	}
	if major := n.order.Uint16(body[0:2]); major != 1 {
		return fmt.Errorf("pcapng version %d.%d not supported (only 1.x)", major, n.order.Uint16(body[2:4]))
	}
	n.ifaces = n.ifaces[:0]
	return nil
}

func (n *pcapngReader) readMeta(size int) ([]byte, error) {
	var err error
	n.meta, err = readBody(n.r, n.meta, size)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n.meta, err
}

// iface parses an interface description block body (after type and length).
func (n *pcapngReader) iface(body []byte) error {
	if len(body) < 12 {
		return errors.New("pcapng interface description too short")
	}
	in := ngInterface{
		link:    uint32(n.order.Uint16(body[0:2])),
		snaplen: n.order.Uint32(body[4:8]),
		units:   1e6,
	}
	opts := body[8 : len(body)-4]
	for len(opts) >= 4 {
		code, olen := n.order.Uint16(opts[0:2]), int(n.order.Uint16(opts[2:4]))
		if code == 0 || 4+olen > len(opts) {
			break
		}
		v := opts[4 : 4+olen]
		switch {
		case code == 9 && olen >= 1: // if_tsresol
			exp := uint(v[0] & 0x7f)
			if v[0]&0x80 != 0 {
				if exp > 63 {
					return fmt.Errorf("pcapng timestamp resolution 2^-%d not supported", exp)
				}
				in.units = 1 << exp
			} else {
				if exp > 19 {
					return fmt.Errorf("pcapng timestamp resolution 10^-%d not supported", exp)
				}
				in.units = 1
				for range exp {
					in.units *= 10
				}
			}
		case code == 14 && olen >= 8: // if_tsoffset
			in.offset = int64(n.order.Uint64(v))
		}
		opts = opts[min(4+(olen+3)&^3, len(opts)):]
	}
	n.ifaces = append(n.ifaces, in)
	return nil
}

func (n *pcapngReader) time(in *ngInterface, hi, lo uint32) time.Time {
	ts := uint64(hi)<<32 | uint64(lo)
	sec, frac := ts/in.units, ts%in.units
	// frac < units, so frac*1e9/units < 1e9 and the division cannot overflow.
	h, l := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(h, l, in.units)
	return time.Unix(int64(sec)+in.offset, int64(ns)).UTC()
}

func (n *pcapngReader) next(rec *record) error {
	for {
		frame := n.frame + 1
		if k, err := io.ReadFull(n.r, n.hdr[:8]); err != nil {
			if err == io.EOF {
				return io.EOF
			}
			if k > 0 && err == io.ErrUnexpectedEOF {
				return &readError{frame, fmt.Errorf("truncated block: file ends in the middle of a block header after frame %d", n.frame)}
			}
			return betweenRecords(n.frame, err)
		}
		typ := n.order.Uint32(n.hdr[0:4])
		if typ == ngSHB {
			if err := n.section(n.hdr[4:8]); err != nil {
				return n.blockErr(err, frame)
			}
			continue
		}
		length := n.order.Uint32(n.hdr[4:8])
		if length < 12 || length%4 != 0 {
			return &readError{frame, fmt.Errorf("corrupt block header after frame %d: block length %d; stopped reading this file", n.frame, length)}
		}
		rest := int64(length) - 8 // body and trailing length
		switch typ {
		case ngIDB:
			if length > maxNgMeta {
				return &readError{frame, fmt.Errorf("corrupt interface description after frame %d: block length %d; stopped reading this file", n.frame, length)}
			}
			body, err := n.readMeta(int(rest))
			if err != nil {
				return n.blockErr(err, frame)
			}
			if err := n.iface(body); err != nil {
				return &readError{frame, err}
			}
			continue
		case ngEPB, ngOPB, ngSPB:
			return n.packet(typ, rest, frame, rec)
		}
		if _, err := n.r.Discard(int(rest)); err != nil {
			return n.blockErr(err, frame)
		}
	}
}

func (n *pcapngReader) blockErr(err error, frame int64) *readError {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &readError{frame, fmt.Errorf("truncated block: file ends in the middle of a block after frame %d", n.frame)}
	}
	return &readError{frame, err}
}

// packet reads a packet block; rest is its length after type and length.
func (n *pcapngReader) packet(typ uint32, rest int64, frame int64, rec *record) error {
	fixed := 20
	if typ == ngSPB {
		fixed = 4
	}
	if rest < int64(fixed)+4 {
		return &readError{frame, fmt.Errorf("corrupt packet block at frame %d: block too short; stopped reading this file", frame)}
	}
	h := n.hdr[8 : 8+fixed]
	if _, err := io.ReadFull(n.r, h); err != nil {
		return truncatedAt(frame)
	}
	var in *ngInterface
	var capLen, wireLen uint32
	var ts time.Time
	ifIndex := 0
	switch typ {
	case ngEPB:
		ifIndex = int(n.order.Uint32(h[0:4]))
	case ngOPB:
		ifIndex = int(n.order.Uint16(h[0:2]))
	}
	if ifIndex < 0 || ifIndex >= len(n.ifaces) {
		return &readError{frame, fmt.Errorf("corrupt packet block at frame %d: interface %d not described (%d interfaces in this section); stopped reading this file",
			frame, ifIndex, len(n.ifaces))}
	}
	in = &n.ifaces[ifIndex]
	room := rest - int64(fixed) - 4
	if typ == ngSPB {
		wireLen = n.order.Uint32(h[0:4])
		capLen = uint32(min(int64(wireLen), room))
		if in.snaplen != 0 {
			capLen = min(capLen, in.snaplen)
		}
		ts = n.lastTS
	} else {
		ts = n.time(in, n.order.Uint32(h[4:8]), n.order.Uint32(h[8:12]))
		capLen, wireLen = n.order.Uint32(h[12:16]), n.order.Uint32(h[16:20])
	}
	if int64(capLen) > room {
		return &readError{frame, fmt.Errorf("corrupt packet block at frame %d: captured length %d exceeds the block; stopped reading this file", frame, capLen)}
	}
	if limit := recordLimit(in.snaplen); uint64(capLen) > uint64(limit) {
		return corruptLength(frame, capLen, in.snaplen, limit)
	}
	var err error
	n.buf, err = readBody(n.r, n.buf, int(capLen))
	if err != nil {
		return truncatedAt(frame)
	}
	if _, err := n.r.Discard(int(room - int64(capLen) + 4)); err != nil {
		return truncatedAt(frame)
	}
	n.frame, n.lastTS = frame, ts
	rec.data, rec.ts, rec.ns, rec.frame = n.buf, ts, timecmp.Nanos(ts), frame
	rec.wireLen = max(int(wireLen), int(capLen))
	rec.link = in.link
	return nil
}
