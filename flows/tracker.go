package flows

import (
	"net/netip"
	"slices"
	"time"

	"why502/capture"
)

// conn is a Conn with the tracker's bookkeeping around it. Handlers see
// only the embedded Conn.
//
// Its fields are ordered for the per-packet path: those that every packet
// reads or writes come first and together, in as few cache lines as
// possible (besides the Conn's own); the bools are packed so that the
// struct fits the allocator's 896-byte size class.
type conn struct {
	Conn
	prev, next *conn // lru links
	closed     bool  // both FINs or a RST: on the linger list
	synSeen    bool
	newSeen    bool   // some payload carried new bytes
	newDir     Dir    // direction of the latest new bytes
	isn        uint32 // client's ISN, to tell a SYN retransmission from port reuse
	lastNs     int64  // Last in nanoseconds (clock.go)
	newAtNs    int64  // newAt in nanoseconds
	half       [2]half
	lastFrame  FrameRef
	newAt      time.Time // when the latest new bytes came

	older    *conn // start order links (Options.StartOrder only)
	newer    *conn
	firstSYN time.Time
	lastSYN  time.Time
}

// Tracker follows TCP connections through packets given in capture time
// order. It is not safe for concurrent use.
type Tracker struct {
	opts    Options
	h       Handler
	starter Starter // h, if it implements Starter
	updater Updater // h, if it implements Updater
	conns   table
	open    lru  // not closed, most recently active first
	linger  lru  // closed, kept for Options.Linger
	started fifo // tracked, oldest first (Options.StartOrder only)
	nextID  uint64
	stats   Stats
	order   startOrder

	now   time.Time
	nowNs int64 // now in nanoseconds (clock.go)
	wide  bool  // a capture time was too far from 1970 for nanoseconds
}

// New returns a Tracker that reports to h.
func New(opts Options, h Handler) *Tracker {
	t := &Tracker{opts: opts.withDefaults(), h: h, conns: newTable(), nowNs: zeroNanos}
	t.starter, _ = h.(Starter)
	t.updater, _ = h.(Updater)
	t.order.next = 1
	return t
}

// Stats returns the counts so far.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Live = int64(t.conns.len())
	return s
}

// Add takes the next packet. Packets must come in capture time order; a
// packet slightly older than the latest (merged captures) is accepted, but
// time never goes backwards for expiry.
func (t *Tracker) Add(p *capture.Packet) {
	t.stats.Packets++
	ns := t.nanos(p.Time)
	if t.after(p.Time, ns, t.now, t.nowNs) {
		t.now, t.nowNs = p.Time, ns
	}
	t.expire()

	c, d := t.conns.find(p.Src, p.Dst)
	syn := p.Flags&(capture.SYN|capture.ACK|capture.RST) == capture.SYN
	if c != nil && syn && t.reused(c, p) {
		t.stats.Reused++
		t.finish(c)
		c = nil
	}
	isNew := c == nil
	var pre Handshake
	if isNew {
		c = t.start(p)
		d = c.dirFrom(p.Src)
	} else if c.closed {
		t.linger.moveToFront(c)
	} else {
		t.open.moveToFront(c)
	}
	if !isNew {
		pre = c.Handshake
	}
	t.packet(c, p, d, ns)
	if isNew && t.starter != nil {
		t.starter.Start(&c.Conn)
	}
	// The handshake changes only from Unanswered, and a refusal (an RST)
	// sets Closed, as any FIN or RST seen does, with Teardown.Kind;
	// Closed is in a cache line this path touches anyway.
	if !isNew && t.updater != nil && (pre == Unanswered || c.Closed != [2]CloseKind{}) {
		t.updater.Update(&c.Conn)
	}
	if !c.closed && (c.half[0].rst || c.half[1].rst || (c.half[0].fin && c.half[1].fin)) {
		c.closed = true
		t.open.remove(c)
		t.linger.pushFront(c)
	}
}

// Advance moves capture time to now without a packet: a live capture's
// periodic tick, so that connections whose Linger or IdleTimeout has
// passed are finished while the interface is quiet, not only when the
// next packet comes. Time never goes backwards.
func (t *Tracker) Advance(now time.Time) {
	ns := t.nanos(now)
	if t.after(now, ns, t.now, t.nowNs) {
		t.now, t.nowNs = now, ns
	}
	t.expire()
}

// reused reports whether a SYN (without ACK) on a tracked 4-tuple starts a
// new connection: any SYN with another ISN or from the other end does, a
// retransmitted SYN (same ISN, same client) does not.
func (t *Tracker) reused(c *conn, p *capture.Packet) bool {
	return !c.synSeen || p.Src != c.Client || p.Seq != c.isn
}

func (t *Tracker) start(p *capture.Packet) *conn {
	for t.conns.len() > 0 && t.conns.len()+len(t.order.held) >= t.opts.MaxConns {
		t.evict()
	}
	t.nextID++
	t.stats.Conns++
	c := &conn{lastNs: zeroNanos}
	c.ID = t.nextID
	c.First = frameRef(p)
	c.Client, c.Server = p.Src, p.Dst
	switch {
	case p.Flags&(capture.SYN|capture.ACK) == capture.SYN:
		c.Handshake = Unanswered
	case p.Flags&(capture.SYN|capture.ACK) == capture.SYN|capture.ACK:
		// The server's SYN-ACK without the SYN: the capture began
		// between the two.
		c.Handshake = Midstream
		c.Client, c.Server = p.Dst, p.Src
	default:
		c.Handshake = Midstream
		if !clientFirst(p.Src, p.Dst) {
			c.Client, c.Server = p.Dst, p.Src
		}
	}
	t.conns.add(c)
	t.open.pushFront(c)
	if t.opts.StartOrder {
		t.started.pushBack(c)
	}
	return c
}

// clientFirst guesses, for a connection seen mid-stream, whether src is the
// client: servers listen on well-known ports (below 1024) and clients
// connect from ephemeral ones, which are high. So a side using a port
// below 1024 against one at or above is the server; otherwise the side
// with the higher port is the client (ties: the sender of the first packet).
func clientFirst(src, dst netip.AddrPort) bool {
	sp, dp := src.Port(), dst.Port()
	switch {
	case dp < 1024 && sp >= 1024:
		return true
	case sp < 1024 && dp >= 1024:
		return false
	}
	return sp >= dp
}

// expire finishes the connections whose time is up. Each list is ordered
// by last activity and has one timeout, so only tails need checking:
// amortized O(1) per packet.
func (t *Tracker) expire() {
	for c := t.linger.tail; c != nil && t.idleFor(c, t.opts.Linger); c = t.linger.tail {
		t.finish(c)
	}
	for c := t.open.tail; c != nil && t.idleFor(c, t.opts.IdleTimeout); c = t.open.tail {
		c.Expired = true
		t.stats.Expired++
		t.finish(c)
	}
}

// evict makes room for one connection: a lingering one if any (it is over
// anyway), else the least recently active open one, which is shed.
//
// With StartOrder, finished connections wait (in memory, counted against
// MaxConns) for every older one, so finishing any but the oldest frees
// nothing: the oldest tracked connection is finished instead (shed if it is
// still open), which delivers it and the finished ones behind it. Without
// this, one connection that never closes would hold back, in memory, every
// connection started after it, whatever MaxConns says.
func (t *Tracker) evict() {
	if t.opts.StartOrder {
		if c := t.started.head; c != nil {
			if !c.closed {
				c.Shed = true
				t.stats.Shed++
			}
			t.finish(c)
		}
		return
	}
	if c := t.linger.tail; c != nil {
		t.finish(c)
		return
	}
	if c := t.open.tail; c != nil {
		c.Shed = true
		t.stats.Shed++
		t.finish(c)
	}
}

// finish ends c: remaining holes become gaps, and Done is called (or held
// for StartOrder).
func (t *Tracker) finish(c *conn) {
	if c.closed {
		t.linger.remove(c)
	} else {
		t.open.remove(c)
	}
	t.conns.remove(c)
	if t.opts.StartOrder {
		t.started.remove(c)
	}
	t.finishHalf(c, ClientToServer, c.lastFrame)
	t.finishHalf(c, ServerToClient, c.lastFrame)
	for d := range c.half {
		c.Bytes[d] = max(c.half[d].hi, 0)
	}
	if t.opts.StartOrder {
		t.order.done(c, t.h)
		return
	}
	t.h.Done(&c.Conn)
}

// Flush ends the input: every connection still tracked is finished, in
// order of start, those not closed marked Unfinished.
func (t *Tracker) Flush() {
	all := t.conns.all()
	slices.SortFunc(all, func(a, b *conn) int { return cmpID(a.ID, b.ID) })
	for _, c := range all {
		if !c.closed {
			c.Unfinished = true
		}
		t.finish(c)
	}
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
