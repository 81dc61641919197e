package flows

import (
	"net/netip"
	"slices"
	"time"

	"why502/capture"
)

// key identifies a 4-tuple regardless of direction: a is the lesser
// endpoint, so both directions of a connection find the same entry. It is
// a comparable value; formatting addresses into strings would allocate on
// every packet.
type key struct{ a, b netip.AddrPort }

func makeKey(src, dst netip.AddrPort) key {
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	return key{src, dst}
}

// conn is a Conn with the tracker's bookkeeping around it. Handlers see
// only the embedded Conn.
type conn struct {
	Conn
	key        key
	prev, next *conn // lru links
	older      *conn // start order links (Options.StartOrder only)
	newer      *conn
	closed     bool // both FINs or a RST: on the linger list
	half       [2]half

	isn       uint32 // client's ISN, to tell a SYN retransmission from port reuse
	synSeen   bool
	firstSYN  time.Time
	lastSYN   time.Time
	lastFrame FrameRef

	newSeen bool // some payload carried new bytes
	newDir  Dir  // direction of the latest new bytes
	newAt   time.Time
}

// Tracker follows TCP connections through packets given in capture time
// order. It is not safe for concurrent use.
type Tracker struct {
	opts    Options
	h       Handler
	starter Starter // h, if it implements Starter
	updater Updater // h, if it implements Updater
	conns   map[key]*conn
	open    lru  // not closed, most recently active first
	linger  lru  // closed, kept for Options.Linger
	started fifo // tracked, oldest first (Options.StartOrder only)
	now     time.Time
	nextID  uint64
	stats   Stats
	order   startOrder
}

// New returns a Tracker that reports to h.
func New(opts Options, h Handler) *Tracker {
	t := &Tracker{opts: opts.withDefaults(), h: h, conns: make(map[key]*conn)}
	t.starter, _ = h.(Starter)
	t.updater, _ = h.(Updater)
	t.order.next = 1
	return t
}

// Stats returns the counts so far.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Live = int64(len(t.conns))
	return s
}

// Add takes the next packet. Packets must come in capture time order; a
// packet slightly older than the latest (merged captures) is accepted, but
// time never goes backwards for expiry.
func (t *Tracker) Add(p *capture.Packet) {
	t.stats.Packets++
	if p.Time.After(t.now) {
		t.now = p.Time
	}
	t.expire()

	k := makeKey(p.Src, p.Dst)
	c := t.conns[k]
	syn := p.Flags&(capture.SYN|capture.ACK|capture.RST) == capture.SYN
	if c != nil && syn && t.reused(c, p) {
		t.stats.Reused++
		t.finish(c)
		c = nil
	}
	isNew := c == nil
	var pre Handshake
	if isNew {
		c = t.start(k, p)
	} else if c.closed {
		t.linger.moveToFront(c)
	} else {
		t.open.moveToFront(c)
	}
	if !isNew {
		pre = c.Handshake
	}
	t.packet(c, p)
	if isNew && t.starter != nil {
		t.starter.Start(&c.Conn)
	}
	if !isNew && t.updater != nil && (pre == Unanswered || pre == Refused || c.Handshake != pre || c.Teardown.Kind != CloseNone) {
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
	if now.After(t.now) {
		t.now = now
	}
	t.expire()
}

// reused reports whether a SYN (without ACK) on a tracked 4-tuple starts a
// new connection: any SYN with another ISN or from the other end does, a
// retransmitted SYN (same ISN, same client) does not.
func (t *Tracker) reused(c *conn, p *capture.Packet) bool {
	return !c.synSeen || p.Src != c.Client || p.Seq != c.isn
}

func (t *Tracker) start(k key, p *capture.Packet) *conn {
	for len(t.conns) > 0 && len(t.conns)+len(t.order.held) >= t.opts.MaxConns {
		t.evict()
	}
	t.nextID++
	t.stats.Conns++
	c := &conn{key: k}
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
	t.conns[k] = c
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
	for c := t.linger.tail; c != nil && !t.now.Before(c.Last.Add(t.opts.Linger)); c = t.linger.tail {
		t.finish(c)
	}
	for c := t.open.tail; c != nil && !t.now.Before(c.Last.Add(t.opts.IdleTimeout)); c = t.open.tail {
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
	delete(t.conns, c.key)
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
	all := make([]*conn, 0, len(t.conns))
	for _, c := range t.conns {
		all = append(all, c)
	}
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
