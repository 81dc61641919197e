package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Record lengths beyond these are treated as corruption rather than read.
const (
	// maxSnaplen is libpcap's MAXIMUM_SNAPLEN. tcpdump, Wireshark and
	// mergecap accept records up to it even when the file header declares
	// a smaller snapshot length (dpkt and others do not enforce theirs).
	maxSnaplen = 262144
	// maxRecord is the hard bound on one record, whatever the header says:
	// no link type decoded here carries frames anywhere near it.
	maxRecord = 1 << 20
	// growStep bounds how much is allocated ahead of the bytes actually
	// read, so a short file claiming a large record cannot make the reader
	// allocate the claimed length.
	growStep = 64 << 10
)

// record is one frame as read from a file, before decoding.
type record struct {
	data    []byte // valid until the next read
	ts      time.Time
	ns      int64 // ts in Unix nanoseconds (timecmp.Nanos)
	wireLen int
	link    uint32
	frame   int64 // 1-based position among the file's packet records
}

// recordReader reads the frames of one file. next returns io.EOF at a clean
// end and a *readError for anything that stops the file early.
type recordReader interface {
	next(rec *record) error
}

// readError stops reading one file; earlier records stay valid.
type readError struct {
	frame int64 // 0 when not tied to a frame
	err   error
}

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func truncatedAt(frame int64) *readError {
	return &readError{frame, fmt.Errorf("truncated record: file ends in the middle of frame %d", frame)}
}

// betweenRecords describes a read error at a record boundary, after frame
// last: a damaged compressed stream, as plain files end with io.EOF there.
func betweenRecords(last int64, err error) *readError {
	if err == io.ErrUnexpectedEOF {
		return &readError{0, fmt.Errorf("data ends early after frame %d (truncated compressed file?); stopped reading this file", last)}
	}
	return &readError{0, fmt.Errorf("read error after frame %d: %w; stopped reading this file", last, err)}
}

// recordLimit is the largest record accepted from a file declaring snaplen.
func recordLimit(snaplen uint32) int {
	if snaplen < maxSnaplen {
		return maxSnaplen
	}
	if snaplen > maxRecord {
		return maxRecord
	}
	return int(snaplen)
}

func corruptLength(frame int64, capLen uint32, snaplen uint32, limit int) *readError {
	var err error
	if uint64(snaplen) == uint64(limit) {
		err = fmt.Errorf("corrupt record header at frame %d: captured length %d exceeds the snapshot length %d; stopped reading this file",
			frame, capLen, snaplen)
	} else {
		err = fmt.Errorf("corrupt record header at frame %d: captured length %d exceeds the snapshot length %d and the %d-byte limit; stopped reading this file",
			frame, capLen, snaplen, limit)
	}
	return &readError{frame, err}
}

// readBody reads n bytes into buf, growing it by at most growStep beyond
// what has been read so far.
func readBody(r *bufio.Reader, buf []byte, n int) ([]byte, error) {
	if n <= cap(buf) {
		buf = buf[:n]
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf = buf[:0]
	for len(buf) < n {
		step := min(n-len(buf), growStep)
		buf = append(buf, make([]byte, step)...)
		if _, err := io.ReadFull(r, buf[len(buf)-step:]); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// Magic numbers of the classic pcap format, as read little-endian.
const (
	pcapMicro        = 0xa1b2c3d4
	pcapNano         = 0xa1b23c4d
	pcapMicroSwapped = 0xd4c3b2a1
	pcapNanoSwapped  = 0x4d3cb2a1
)

// pcapReader reads the classic libpcap format, either byte order, micro- or
// nanosecond timestamps.
type pcapReader struct {
	r       *bufio.Reader
	order   binary.ByteOrder
	nano    bool
	snaplen uint32
	link    uint32
	frame   int64
	buf     []byte // a frame larger than the read buffer
}

// pcapRecordHeader is the length of a record's header: seconds, fraction,
// captured and original length.
const pcapRecordHeader = 16

func newPcapReader(r *bufio.Reader) (*pcapReader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcap file header cut short: %w", err)
	}
	p := &pcapReader{r: r}
	switch binary.LittleEndian.Uint32(h[:4]) {
	case pcapMicro:
		p.order = binary.LittleEndian
	case pcapNano:
		p.order, p.nano = binary.LittleEndian, true
	case pcapMicroSwapped:
		p.order = binary.BigEndian
	case pcapNanoSwapped:
		p.order, p.nano = binary.BigEndian, true
	default:
		return nil, errors.New("not a pcap file")
	}
	if v := p.order.Uint16(h[4:6]); v != 2 {
		return nil, fmt.Errorf("pcap version %d.%d not supported (only 2.x)", v, p.order.Uint16(h[6:8]))
	}
	p.snaplen = p.order.Uint32(h[16:20])
	// The upper bits carry FCS information (pcap draft, LinkType field).
	p.link = p.order.Uint32(h[20:24]) & 0xffff
	return p, nil
}

func (p *pcapReader) next(rec *record) error {
	frame := p.frame + 1
	// The header and (when it fits the read buffer) the frame are read in
	// place, with Peek, not copied out: valid until the next read, as
	// rec.data must be. pprof: io.ReadFull and its copies were a fifth of
	// the reading goroutine on small packets.
	// What is buffered already is peeked without a read: most records
	// are whole in it, and then one Peek serves header and frame.
	buffered, _ := p.r.Peek(p.r.Buffered())
	hdr, err := buffered, error(nil)
	if len(hdr) < pcapRecordHeader {
		hdr, err = p.r.Peek(pcapRecordHeader)
	}
	if err != nil {
		switch {
		case len(hdr) == 0 && err == io.EOF:
			return io.EOF
		case len(hdr) > 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
			return truncatedAt(frame)
		}
		// Between records: a gzip stream cut short or failing its checksum.
		return betweenRecords(p.frame, err)
	}
	sec := int64(p.order.Uint32(hdr[0:4]))
	frac := int64(p.order.Uint32(hdr[4:8]))
	capLen := p.order.Uint32(hdr[8:12])
	wireLen := p.order.Uint32(hdr[12:16])
	if limit := recordLimit(p.snaplen); uint64(capLen) > uint64(limit) {
		return corruptLength(frame, capLen, p.snaplen, limit)
	}
	if n := int(capLen); pcapRecordHeader+n <= len(buffered) {
		rec.data = buffered[pcapRecordHeader : pcapRecordHeader+n]
		p.r.Discard(pcapRecordHeader + n)
	} else if pcapRecordHeader+n <= p.r.Size() {
		// Header and frame in one Peek and one Discard (cachegrind: the
		// second pair was 1 % of analyze's instructions on small packets).
		var whole []byte
		whole, err = p.r.Peek(pcapRecordHeader + n)
		if len(whole) >= pcapRecordHeader {
			rec.data = whole[pcapRecordHeader:]
		}
		p.r.Discard(len(whole))
	} else {
		p.r.Discard(pcapRecordHeader) // Peek returned them all
		p.buf, err = readBody(p.r, p.buf, n)
		rec.data = p.buf
	}
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return truncatedAt(frame)
		}
		return &readError{frame, fmt.Errorf("read frame %d: %w", frame, err)}
	}
	p.frame = frame
	if !p.nano {
		frac *= 1000
	}
	rec.ts = time.Unix(sec, frac).UTC()
	rec.ns = sec*1e9 + frac // exact: sec is at most 2^32, frac below 2^32 * 1000
	rec.wireLen = max(int(wireLen), int(capLen))
	rec.link = p.link
	rec.frame = frame
	return nil
}
