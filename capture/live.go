package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"

	"why502/internal/timecmp"
)

// ErrTick is what Reader.Next returns on a live capture when no packet came
// within LiveOptions.Tick: the caller can advance its timers (to
// Reader.Watermark) and call Next again.
var ErrTick = errors.New("capture: no packet within the tick")

// LiveOptions configure OpenLive.
type LiveOptions struct {
	// Context stops the capture when cancelled: Next returns the packets
	// already read from the kernel, then io.EOF. Nil means never.
	Context context.Context
	// Filter is compiled to BPF and run in the kernel, and matched again
	// on each decoded packet. Nil keeps every TCP segment.
	Filter *Filter
	// BPF, when set, is attached instead of the program compiled from
	// Filter (e.g. parsed from tcpdump -ddd by ParseBPFDecimal). It sees
	// frames as the socket delivers them: see the package documentation.
	BPF []bpf.RawInstruction
	// Snaplen is the most bytes kept of each frame; 0 means 262144.
	Snaplen int
	// Tick, when positive, makes Next return ErrTick after that long
	// without a packet to return.
	Tick time.Duration
	// BufferSize is the kernel ring of each socket in bytes, rounded to
	// MiB; 0 means 32 MiB. A larger ring absorbs longer bursts before the
	// kernel drops packets.
	BufferSize int
	// Promiscuous puts the named interfaces (not "any") in promiscuous mode.
	Promiscuous bool
	// Write, when set, receives every frame the kernel passed, as pcapng,
	// in the order Next returns packets, one interface block per
	// interface. Packets then carry WriteName as File and their position
	// in that file as Frame, so that reading the file back gives the same
	// references.
	Write     io.Writer
	WriteName string
}

// InterfaceStats are the kernel's counters for one capture socket.
type InterfaceStats struct {
	Name string
	// Packets the socket's filter accepted, including those dropped.
	Packets uint64
	// Drops: packets the filter accepted that found the ring full.
	Drops uint64
	// QueueFreezes: times the TPACKET_V3 ring filled up.
	QueueFreezes uint64
}

// Timing of the sockets. A TPACKET_V3 block reaches user space when full or
// after liveBlockTimeout; a read waits liveReadTimeout before checking for
// a stop. Packets from several sockets are held up to liveReorder so that
// they come out in time order: a packet older than one already returned
// must still be in a block the kernel has not handed over.
const (
	liveBlockTimeout = 20 * time.Millisecond
	liveReadTimeout  = 20 * time.Millisecond
	liveReorder      = 100 * time.Millisecond
	liveBlockSize    = 1 << 20
	liveBufferSize   = 32 << 20
	liveBatchPackets = 256       // packets handed over at once
	liveBatchBytes   = 512 << 10 // bytes handed over at once, at least
	liveBatches      = 8         // batches in flight per socket: bounds memory
)

// errReadTimeout is what a packetSource returns when no packet came within
// its read timeout.
var errReadTimeout = errors.New("read timeout")

// packetSource is one capture socket. read returns a frame valid until the
// next call; the interface index is 0 when the socket is bound to one.
type packetSource interface {
	read() (data []byte, ts time.Time, wireLen, ifindex int, err error)
	stats() (InterfaceStats, error)
	close()
}

// liveFrame is one frame in a batch.
type liveFrame struct {
	off, n  int
	ts      time.Time
	wireLen int
	ifindex int
}

// liveBatch is frames copied out of the kernel's ring by a socket's
// goroutine, handed to Next over a channel.
type liveBatch struct {
	data    []byte
	frames  []liveFrame
	arrived time.Time // when handed over (monotonic)
}

// liveSource is one socket: its goroutine fills batches; Next consumes them.
type liveSource struct {
	name  string // interface name, "any" for all
	link  uint32 // link type of the frames
	index int    // position in the interface list: breaks timestamp ties
	src   packetSource

	full    chan *liveBatch // filled batches, closed when the goroutine ends
	free    chan *liveBatch // batches to reuse
	err     error           // why the goroutine ended, read after full is closed
	st      stream          // decoding state and the packet returned
	cur     *liveBatch      // batch being consumed by Next
	pos     int
	done    bool // full closed and drained
	ifStats struct {
		sync.Mutex
		last   InterfaceStats
		closed bool
	}
}

// live is the live side of a Reader.
type live struct {
	srcs    []*liveSource
	stop    chan struct{}
	stopped sync.Once
	closed  atomic.Bool
	wg      sync.WaitGroup
	wake    chan struct{} // a goroutine handed over a batch
	ctxDone <-chan struct{}
	tick    time.Duration
	timer   *time.Timer

	lastTS time.Time // of the packet returned last
	names  map[int]string
	frames map[string]int64 // frames per File
	rec    record
	out    *PcapngWriter
	outIDs map[int]int // ifindex (or -1-source index) -> interface block
	outErr error
	// writeName replaces the interface name as Packet.File when writing.
	writeName string
	// resolve names an interface index, for sockets bound to "any".
	resolve func(ifindex int) string
}

func (r *Reader) startLive(srcs []*liveSource, opts LiveOptions) error {
	l := &live{
		srcs:      srcs,
		stop:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		tick:      opts.Tick,
		names:     map[int]string{},
		frames:    map[string]int64{},
		outIDs:    map[int]int{},
		resolve:   interfaceName,
		writeName: opts.WriteName,
	}
	if opts.Context != nil {
		l.ctxDone = opts.Context.Done()
	}
	if opts.Write != nil {
		w, err := NewPcapngWriter(opts.Write)
		if err != nil {
			return fmt.Errorf("write %s: %w", opts.WriteName, err)
		}
		l.out = w
	}
	r.live = l
	for i, s := range srcs {
		s.index = i
		s.full = make(chan *liveBatch, liveBatches)
		s.free = make(chan *liveBatch, liveBatches)
		for range liveBatches {
			s.free <- &liveBatch{data: make([]byte, 0, liveBatchBytes), frames: make([]liveFrame, 0, liveBatchPackets)}
		}
		l.wg.Add(1)
		go l.run(s)
	}
	return nil
}

// run copies frames from s's socket into batches until stopped or until
// the socket fails. It closes the socket: only this goroutine touches the
// ring.
func (l *live) run(s *liveSource) {
	defer l.wg.Done()
	defer close(s.full)
	defer func() {
		s.ifStats.Lock()
		if st, err := s.src.stats(); err == nil {
			s.ifStats.last = st
		}
		s.ifStats.closed = true
		s.src.close()
		s.ifStats.Unlock()
	}()
	for {
		var b *liveBatch
		select {
		case b = <-s.free:
		case <-l.stop:
			return
		}
		b.data, b.frames = b.data[:0], b.frames[:0]
		for len(b.frames) < liveBatchPackets && len(b.data) < liveBatchBytes {
			data, ts, wire, ifindex, err := s.src.read()
			if err == errReadTimeout {
				select {
				case <-l.stop:
					if len(b.frames) > 0 {
						l.hand(s, b)
					}
					return
				default:
				}
				if len(b.frames) > 0 {
					break
				}
				continue
			}
			if err != nil {
				s.err = err
				if len(b.frames) > 0 {
					l.hand(s, b)
				}
				return
			}
			b.frames = append(b.frames, liveFrame{off: len(b.data), n: len(data), ts: ts, wireLen: wire, ifindex: ifindex})
			b.data = append(b.data, data...)
		}
		l.hand(s, b)
	}
}

// hand passes b to Next. It never blocks: full has room for every batch.
func (l *live) hand(s *liveSource, b *liveBatch) {
	b.arrived = time.Now()
	s.full <- b
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// head returns s's next frame without consuming it, taking a new batch if
// one is ready; nil when none is.
func (s *liveSource) head() *liveFrame {
	for !s.done {
		if s.cur != nil && s.pos < len(s.cur.frames) {
			return &s.cur.frames[s.pos]
		}
		if s.cur != nil {
			s.free <- s.cur // never blocks: there are liveBatches batches in all
			s.cur = nil
		}
		select {
		case b, ok := <-s.full:
			if !ok {
				s.done = true
				return nil
			}
			s.cur, s.pos = b, 0
		default:
			return nil
		}
	}
	return nil
}

// next returns the earliest frame that can be returned now, the source it
// comes from, and whether every source has ended.
func (l *live) next(now time.Time) (*liveFrame, *liveSource, bool) {
	var best *liveSource
	var bf *liveFrame
	waiting, ended := false, true
	for _, s := range l.srcs {
		f := s.head()
		if s.done {
			continue
		}
		ended = false
		if f == nil {
			waiting = true
			continue
		}
		if bf == nil || f.ts.Before(bf.ts) {
			best, bf = s, f
		}
	}
	if bf == nil {
		return nil, nil, ended
	}
	// Another socket may still have an earlier packet in a block the
	// kernel has not handed over: wait until that cannot be so.
	if waiting && now.Sub(bf.ts) < liveReorder && now.Sub(best.cur.arrived) < liveReorder {
		return nil, nil, false
	}
	return bf, best, false
}

// nextLive is Next for a live capture.
func (r *Reader) nextLive() (*Packet, error) {
	l := r.live
	var deadline time.Time
	if l.tick > 0 {
		deadline = time.Now().Add(l.tick)
	}
	for {
		if l.closed.Load() {
			return nil, io.EOF
		}
		if l.outErr != nil {
			return nil, l.outErr
		}
		now := time.Now()
		f, s, ended := l.next(now)
		if ended {
			for _, s := range l.srcs {
				if s.err != nil {
					l.closed.Store(true)
					return nil, fmt.Errorf("capture on %s: %w", s.name, s.err)
				}
			}
			r.flushOut()
			return nil, io.EOF
		}
		if f != nil {
			s.pos++
			if p, ok := r.liveFrame(s, f); ok {
				return p, nil
			}
			continue
		}
		// Nothing to return yet: wait for a batch, a stop, the tick, or
		// the end of the reorder window.
		wait := liveReorder
		if !deadline.IsZero() {
			if d := deadline.Sub(now); d <= 0 {
				r.flushOut()
				return nil, ErrTick
			} else if d < wait {
				wait = d
			}
		}
		if l.timer == nil {
			l.timer = time.NewTimer(wait)
		} else {
			l.timer.Reset(wait)
		}
		select {
		case <-l.wake:
		case <-l.timer.C:
		case <-l.ctxDone:
			l.ctxDone = nil
			l.halt()
		case <-l.stop:
		}
		l.timer.Stop()
	}
}

// liveFrame decodes f as Next does for a file; ok is false when it is not
// a TCP segment the filter passes.
func (r *Reader) liveFrame(s *liveSource, f *liveFrame) (*Packet, bool) {
	l := r.live
	data := s.cur.data[f.off : f.off+f.n : f.off+f.n]
	name := s.name
	if f.ifindex != 0 && s.name == "any" {
		name = l.ifName(f.ifindex)
	}
	var frame int64
	if l.out != nil {
		key := -1 - s.index // one interface block per socket,
		if s.name == "any" {
			key = f.ifindex // or per interface on "any"
		}
		id, ok := l.outIDs[key]
		if !ok {
			var err error
			id, err = l.out.AddInterface(WriterInterface{Name: name, Link: s.link, Snaplen: maxSnaplen})
			if err != nil {
				l.outErr = err
				return nil, false
			}
			l.outIDs[key] = id
		}
		if err := l.out.WritePacket(id, f.ts, data, f.wireLen); err != nil {
			l.outErr = fmt.Errorf("write %s: %w", l.writeName, err)
			return nil, false
		}
		name = l.writeName
		frame = l.out.Packets()
	} else {
		frame = l.frames[name] + 1
		l.frames[name] = frame
	}
	if f.ts.After(l.lastTS) {
		l.lastTS = f.ts
	}
	rec := &l.rec
	rec.data, rec.ts, rec.wireLen, rec.link, rec.frame = data, f.ts.UTC(), max(f.wireLen, f.n), s.link, frame
	rec.ns = timecmp.Nanos(rec.ts)
	if !r.take(&s.st, name, rec, &s.st.pkt) {
		return nil, false
	}
	return &s.st.pkt, true
}

func (l *live) ifName(ifindex int) string {
	name, ok := l.names[ifindex]
	if !ok {
		name = l.resolve(ifindex)
		l.names[ifindex] = name
	}
	return name
}

func (r *Reader) flushOut() {
	if l := r.live; l.out != nil && l.outErr == nil {
		if err := l.out.Flush(); err != nil {
			l.outErr = fmt.Errorf("write %s: %w", l.writeName, err)
		}
	}
}

// halt stops the sockets' goroutines; what they handed over stays to read.
func (l *live) halt() {
	l.stopped.Do(func() { close(l.stop) })
}

// closeLive stops the capture and waits for the sockets to close.
func (r *Reader) closeLive() error {
	l := r.live
	l.halt()
	l.closed.Store(true)
	l.wg.Wait()
	if l.out != nil && l.outErr == nil {
		if err := l.out.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", l.writeName, err)
		}
	}
	return nil
}

// LiveStats returns the kernel's counters for each socket of a live
// capture (nil for files). After Close they are the last ones read.
func (r *Reader) LiveStats() ([]InterfaceStats, error) {
	if r.live == nil {
		return nil, nil
	}
	var out []InterfaceStats
	var errs []error
	for _, s := range r.live.srcs {
		s.ifStats.Lock()
		if !s.ifStats.closed {
			st, err := s.src.stats()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: kernel statistics: %w", s.name, err))
			} else {
				s.ifStats.last = st
			}
		}
		st := s.ifStats.last
		st.Name = s.name
		s.ifStats.Unlock()
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

// Watermark returns the capture time up to which every packet has been
// returned by Next: on a live capture, the wall clock (the kernel stamps
// packets with it) less the time a packet can take to reach Next, never
// before the last packet returned; for files, the last packet's time. A
// caller advances its timeouts to it when Next returns ErrTick.
func (r *Reader) Watermark() time.Time {
	if r.live == nil {
		return r.stats.Last
	}
	l := r.live
	wm := time.Now().Add(-liveReorder).UTC()
	for _, s := range l.srcs {
		if f := s.head(); f != nil && f.ts.Before(wm) {
			wm = f.ts.UTC()
		}
	}
	if wm.Before(l.lastTS) {
		wm = l.lastTS.UTC()
	}
	return wm
}
