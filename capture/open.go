package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Options configure a Reader.
type Options struct {
	Filter *Filter // packets the filter rejects are skipped; nil keeps everything
	// Stdin is what the name "-" reads; nil means os.Stdin. A command takes
	// it as a parameter so that tests can feed it.
	Stdin io.Reader
	// Prefetch reads, decompresses and decodes in a goroutine of its own,
	// batches ahead of Next, to use a second core. Packets come in the
	// same order. Files only (not OpenLive).
	Prefetch bool
}

// Source is one capture to read: Name is used in warnings and Packet.File.
type Source struct {
	Name string
	R    io.Reader
}

// Stats counts what a Reader saw, across all files.
type Stats struct {
	Frames      int64 // frames (packet records) read
	TCP         int64 // TCP segments decoded, including those the filter rejected
	NonTCP      int64 // frames that are not TCP over IPv4/IPv6 (ARP, UDP, ICMP...)
	Fragments   int64 // IPv4 and IPv6 fragments, counted and not reassembled
	Truncated   int64 // TCP segments cut by the snapshot length
	Undecodable int64 // malformed frames and frames of unsupported link types
	Filtered    int64 // TCP segments the filter rejected
	Warnings    int64 // warnings raised, including those beyond Warnings()

	First, Last time.Time // earliest and latest frame timestamp
}

const (
	maxWarnings           = 100 // kept by Reader.Warnings
	maxUndecodableWarning = 5   // per file; the rest are only counted
	readBufferSize        = 256 << 10
)

const supportedFormats = "supported: pcap and pcapng, optionally gzip-compressed"

// Reader reads TCP segments from one or more captures, merged in timestamp
// order, or from network interfaces (OpenLive).
type Reader struct {
	opts    Options
	streams []*stream
	heap    []*stream // streams with a packet ready, earliest first
	last    *stream   // stream of the packet returned last, to advance next
	started bool
	stats   Stats
	// firstNs and lastNs are stats.First and stats.Last in nanoseconds
	// (timecmp.Nanos); lastNs starts as the zero time's.
	firstNs, lastNs int64
	warnings        []Warning
	closers         []io.Closer
	live            *live     // set by OpenLive
	pre             *prefetch // set by the first Next with Options.Prefetch
	progress        *progress // set by Open
}

// Open opens the named capture files ("-" is standard input) and returns a
// Reader over all of them. The error names the file that could not be read.
func Open(names []string, opts Options) (*Reader, error) {
	srcs := make([]Source, 0, len(names))
	var closers []io.Closer
	prog := new(progress)
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	stdin := false
	for _, name := range names {
		if name == "-" {
			if stdin {
				closeAll()
				return nil, errors.New(`standard input ("-") given more than once`)
			}
			stdin = true
			stdin := opts.Stdin
			if stdin == nil {
				stdin = os.Stdin
			}
			srcs = append(srcs, Source{Name: name, R: prog.source(stdin, false)})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, err // *PathError names the file
		}
		closers = append(closers, f)
		srcs = append(srcs, Source{Name: name, R: prog.source(f, true)})
	}
	r, err := NewReader(srcs, opts)
	if err != nil {
		closeAll()
		return nil, err
	}
	r.closers = closers
	r.progress = prog
	return r, nil
}

// NewReader returns a Reader over already open sources. It reads each
// source's header; an error names the source that is not a capture.
func NewReader(srcs []Source, opts Options) (*Reader, error) {
	if len(srcs) == 0 {
		return nil, errors.New("no capture files given")
	}
	r := &Reader{opts: opts, lastNs: math.MinInt64}
	for i, src := range srcs {
		rr, err := openFormat(src.R)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		}
		if p, ok := rr.(*pcapReader); ok && !linkSupported(p.link) {
			return nil, fmt.Errorf("%s: %s", src.Name, linkError(p.link))
		}
		r.streams = append(r.streams, &stream{name: src.Name, index: i, src: rr})
	}
	return r, nil
}

// openFormat detects the format by its magic bytes, not by the file name.
func openFormat(r io.Reader) (recordReader, error) {
	br := bufio.NewReaderSize(r, readBufferSize)
	magic, err := br.Peek(4)
	if len(magic) == 0 && err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("empty file, not a capture (%s)", supportedFormats)
		}
		return nil, err
	}
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReaderSize(zr, readBufferSize)
		if magic, err = br.Peek(4); len(magic) == 0 && err != nil {
			if err == io.EOF {
				return nil, fmt.Errorf("empty gzip-compressed file, not a capture (%s)", supportedFormats)
			}
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	if len(magic) == 4 {
		switch binary.LittleEndian.Uint32(magic) {
		case pcapMicro, pcapNano, pcapMicroSwapped, pcapNanoSwapped:
			return newPcapReader(br)
		case ngSHB:
			return newPcapngReader(br)
		}
	}
	return nil, fmt.Errorf("not a capture file (starts with %s; %s)", describeStart(br), supportedFormats)
}

// describeStart shows the first bytes of a file that is not a capture, as
// text when they are printable, in hex otherwise.
func describeStart(br *bufio.Reader) string {
	b, _ := br.Peek(16)
	if bytes.HasPrefix(b, []byte("\x89PNG")) {
		return "a PNG image header"
	}
	printable := len(b) > 0
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c > 0x7e {
			printable = false
		}
	}
	if printable {
		return fmt.Sprintf("text %q", b)
	}
	return fmt.Sprintf("bytes % x", b)
}

// linkError describes a link type that is not decoded.
func linkError(link uint32) error {
	return fmt.Errorf("link type %d (%s) not supported; %s", link, linkName(link), "supported: "+supportedLinks)
}

func linkName(link uint32) string {
	switch {
	case link >= 147 && link <= 162:
		return fmt.Sprintf("USER%d", link-147)
	}
	switch link {
	case 9:
		return "PPP"
	case 50:
		return "PPP_HDLC"
	case 105:
		return "IEEE802_11"
	case 127:
		return "IEEE802_11_RADIOTAP"
	case 192:
		return "PPI"
	case 220:
		return "USB_LINUX_MMAPPED"
	case 253:
		return "NETLINK"
	case 249:
		return "USBPCAP"
	}
	return "unknown"
}

// Next returns the next TCP segment in timestamp order across all sources,
// or io.EOF after the last. The packet and its Payload are valid until the
// next call. On a live capture it also returns ErrTick when LiveOptions.Tick
// passed without a packet; call it again.
func (r *Reader) Next() (*Packet, error) {
	if r.live != nil {
		return r.nextLive()
	}
	if r.opts.Prefetch {
		if r.pre == nil {
			r.startPrefetch()
		}
		return r.pre.next()
	}
	return r.next()
}

// Each calls f with each packet, as Next returns them, until the end of
// the input, and returns the first error other than io.EOF; the packets
// before it were given to f. Not for live captures (ErrTick).
func (r *Reader) Each(f func(*Packet)) error {
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f(p)
	}
}

// next is Next on files, read in the caller's goroutine or the prefetching one.
func (r *Reader) next() (*Packet, error) {
	if len(r.streams) == 1 {
		// One input, the common case: nothing to merge, so no heap to
		// push the stream into and pop it from at every packet
		// (cachegrind, 100 MB of small keep-alive requests: 1.5 % of
		// analyze's instructions, in time comparisons mostly).
		s := r.streams[0]
		if err := r.nextInto(&s.pkt); err != nil {
			return nil, err
		}
		return &s.pkt, nil
	}
	if !r.started {
		r.started = true
		for _, s := range r.streams {
			if r.advance(s) {
				r.push(s)
			}
		}
	} else if s := r.last; s != nil {
		r.last = nil
		if r.advance(s) {
			r.push(s)
		}
	}
	if len(r.heap) == 0 {
		return nil, io.EOF
	}
	s := r.pop()
	r.last = s
	return &s.pkt, nil
}

// nextInto is next, with the packet decoded into p: straight there when
// there is one input (read ahead, p is in a batch: the Packet, 176 bytes
// with pointers, is not copied into it from the stream; cachegrind: the
// copy was 1.2 % of analyze's instructions).
func (r *Reader) nextInto(p *Packet) error {
	if len(r.streams) != 1 {
		q, err := r.next()
		if err == nil {
			*p = *q
		}
		return err
	}
	s := r.streams[0]
	if r.started && r.last == nil {
		return io.EOF // read to its end
	}
	r.started, r.last = true, nil
	if !r.advanceInto(s, p) {
		return io.EOF
	}
	r.last = s
	return nil
}

// Warnings returns the first warnings raised so far (at most 100; Stats
// counts all). With Options.Prefetch, so far means up to the packets read
// ahead; all of them once Next returned io.EOF or an error.
func (r *Reader) Warnings() []Warning {
	if r.pre != nil {
		return r.pre.cur.warnings
	}
	return r.warnings
}

// Stats returns the counts so far (see Warnings for Options.Prefetch).
func (r *Reader) Stats() Stats {
	if r.pre != nil {
		return r.pre.cur.stats
	}
	return r.stats
}

// Close closes the files Open opened, or the sockets OpenLive opened.
// Sources given to NewReader are the caller's to close.
func (r *Reader) Close() error {
	var errs []error
	if r.live != nil {
		errs = append(errs, r.closeLive())
	}
	if r.pre != nil {
		r.pre.stop()
	}
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	r.closers = nil
	return errors.Join(errs...)
}

func (r *Reader) warn(file string, frame int64, err error) {
	r.stats.Warnings++
	if len(r.warnings) < maxWarnings {
		r.warnings = append(r.warnings, Warning{File: file, Frame: frame, Err: err})
	}
}
