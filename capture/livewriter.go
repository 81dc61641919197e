package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// WriterInterface describes one interface of a pcapng file: its name and
// the LINKTYPE_ of its frames.
type WriterInterface struct {
	Name    string
	Link    uint32
	Snaplen uint32 // 0 means 262144
}

// PcapngWriter writes a pcapng file (one section, little-endian,
// nanosecond timestamps) that Reader, tcpdump and Wireshark read.
// Interfaces can be added between packets, as a live capture on "any" meets
// them. Writes are buffered: call Flush.
type PcapngWriter struct {
	w       *bufio.Writer
	ifaces  int
	packets int64
	hdr     [28]byte
}

// NewPcapngWriter writes the section header and one interface description
// per interface given, numbered from 0 in that order.
func NewPcapngWriter(w io.Writer, ifaces ...WriterInterface) (*PcapngWriter, error) {
	pw := &PcapngWriter{w: bufio.NewWriterSize(w, 64<<10)}
	le := binary.LittleEndian
	shb := le.AppendUint32(nil, ngSHB)
	shb = le.AppendUint32(shb, 28)
	shb = le.AppendUint32(shb, ngByteOrderMagic)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0)) // section length unknown
	shb = le.AppendUint32(shb, 28)
	if _, err := pw.w.Write(shb); err != nil {
		return nil, err
	}
	for _, in := range ifaces {
		if _, err := pw.AddInterface(in); err != nil {
			return nil, err
		}
	}
	return pw, nil
}

// AddInterface writes an interface description and returns its number.
func (pw *PcapngWriter) AddInterface(in WriterInterface) (int, error) {
	if in.Link > 0xffff {
		return 0, fmt.Errorf("pcapng: link type %d does not fit an interface description", in.Link)
	}
	if len(in.Name) > 0xff00 {
		return 0, errors.New("pcapng: interface name too long")
	}
	snap := in.Snaplen
	if snap == 0 {
		snap = maxSnaplen
	}
	le := binary.LittleEndian
	opts := le.AppendUint16(nil, 9) // if_tsresol: nanoseconds
	opts = le.AppendUint16(opts, 1)
	opts = append(opts, 9, 0, 0, 0)
	if in.Name != "" {
		opts = le.AppendUint16(opts, 2) // if_name
		opts = le.AppendUint16(opts, uint16(len(in.Name)))
		opts = append(opts, in.Name...)
		for len(opts)%4 != 0 {
			opts = append(opts, 0)
		}
	}
	opts = append(opts, 0, 0, 0, 0) // opt_endofopt
	n := uint32(20 + len(opts))
	b := le.AppendUint32(nil, ngIDB)
	b = le.AppendUint32(b, n)
	b = le.AppendUint16(b, uint16(in.Link))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, snap)
	b = append(b, opts...)
	b = le.AppendUint32(b, n)
	if _, err := pw.w.Write(b); err != nil {
		return 0, err
	}
	pw.ifaces++
	return pw.ifaces - 1, nil
}

// WritePacket writes one frame of interface iface as an enhanced packet
// block; wireLen is its length on the wire (at least len(data)).
func (pw *PcapngWriter) WritePacket(iface int, ts time.Time, data []byte, wireLen int) error {
	if iface < 0 || iface >= pw.ifaces {
		return fmt.Errorf("pcapng: interface %d not described (%d interfaces)", iface, pw.ifaces)
	}
	if len(data) > maxRecord {
		return fmt.Errorf("pcapng: frame of %d bytes exceeds %d", len(data), maxRecord)
	}
	pad := (4 - len(data)%4) % 4
	n := uint32(32 + len(data) + pad)
	ns := uint64(ts.UnixNano())
	le := binary.LittleEndian
	h := pw.hdr[:]
	le.PutUint32(h[0:], ngEPB)
	le.PutUint32(h[4:], n)
	le.PutUint32(h[8:], uint32(iface))
	le.PutUint32(h[12:], uint32(ns>>32))
	le.PutUint32(h[16:], uint32(ns))
	le.PutUint32(h[20:], uint32(len(data)))
	le.PutUint32(h[24:], uint32(max(wireLen, len(data))))
	pw.w.Write(h)
	pw.w.Write(data)
	var tail [8]byte
	le.PutUint32(tail[pad:], n)
	if _, err := pw.w.Write(tail[:pad+4]); err != nil {
		return err
	}
	pw.packets++
	return nil
}

// Packets returns the number of packets written: the frame number of the
// last one.
func (pw *PcapngWriter) Packets() int64 { return pw.packets }

// Flush writes out what is buffered.
func (pw *PcapngWriter) Flush() error { return pw.w.Flush() }
