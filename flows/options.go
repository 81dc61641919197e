package flows

import "time"

// Options tune a Tracker. The zero value gives the defaults.
type Options struct {
	// IdleTimeout releases a connection idle this long (capture time).
	// Default 5m, Zeek's tcp_inactivity_timeout.
	IdleTimeout time.Duration
	// Linger keeps a closed connection this long (capture time) so that
	// late ACKs and retransmitted FINs or RSTs land on it instead of
	// starting a phantom mid-stream connection. Default 2s.
	Linger time.Duration
	// MaxConns caps the connections held in memory: tracked, plus, with
	// StartOrder, finished ones waiting for an older one. Beyond it the
	// least recently active one (with StartOrder, the oldest) is evicted
	// and counted in Stats.Shed. Default 1<<16: a connection costs about
	// 1.2 KB live and up to 2.5 KB of heap with the garbage collector's
	// headroom, so a SYN flood stays under 300 MB of heap.
	MaxConns int
	// MaxBuffer caps the out-of-order bytes (sequence space) held per
	// direction; beyond it the hole is declared a gap. Default 1 MiB.
	MaxBuffer int
	// WantData delivers payload to Handler.Data. When false only sequence
	// space is tracked: nothing is copied or buffered (the fast path).
	WantData bool
	// StartOrder delivers Done in increasing Conn.ID order, holding
	// finished connections until every earlier-started one is done. A
	// long-lived connection then holds back all later ones.
	StartOrder bool
}

// Defaults for the zero Options.
const (
	DefaultIdleTimeout = 5 * time.Minute
	DefaultLinger      = 2 * time.Second
	DefaultMaxConns    = 1 << 16
	DefaultMaxBuffer   = 1 << 20
)

// MaxGapsKept is how many gaps a Conn keeps in Conn.Gaps; GapCount and
// GapBytes count them all.
const MaxGapsKept = 8

func (o Options) withDefaults() Options {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	return o
}

// Chunk is a run of in-order payload bytes of one direction.
type Chunk struct {
	Dir Dir
	// Data is valid only during the Handler.Data call.
	Data []byte
	// At is the frame that carried the bytes.
	At FrameRef
	// Idle is the time since the previous new payload in either direction,
	// measured when the segment arrived (0 for the first payload).
	Idle time.Duration
}

// Handler receives a Tracker's results. Calls happen synchronously inside
// Tracker.Add and Tracker.Flush.
type Handler interface {
	// Data receives in-order payload (only when Options.WantData).
	Data(c *Conn, ch Chunk)
	// Gap reports bytes missing from the stream at this point.
	Gap(c *Conn, g Gap)
	// Done is called once per connection when it is finished (closed and
	// lingered, expired, shed or at end of input); c is final then and
	// the handler may keep it.
	Done(c *Conn)
}

// Starter is implemented by Handlers that want to hear of a connection as
// soon as it begins, not only when it is done: a connect attempt that is
// never answered is only done after IdleTimeout, long after the proxy gave
// up on it. Start is called once per connection, after its first packet.
// The tracker keeps updating c in place until Done, so a handler may read
// it at any later call to see the connection's state so far.
type Starter interface {
	Start(c *Conn)
}

// Updater is a Handler that also wants to know when a connection's
// handshake or teardown changes between Start and Done: after each packet
// of a connection whose handshake was not complete (a SYN retransmitted,
// answered, refused) or that is closing (FIN or RST seen). A handler that
// keeps a copy of the connection, instead of reading it in place (another
// goroutine), refreshes its copy here; data packets of an established
// connection do not call it.
type Updater interface {
	Update(c *Conn)
}

// Stats counts what a Tracker saw.
type Stats struct {
	Packets   int64 // packets added
	Conns     int64 // connections started
	Live      int64 // connections tracked right now (open or lingering)
	Shed      int64 // evicted at Options.MaxConns
	Expired   int64 // released after Options.IdleTimeout
	Reused    int64 // connections started by a SYN on a 4-tuple still tracked (port reuse)
	Gaps      int64 // gaps declared, both directions
	GapBytes  int64 // bytes in those gaps
	Overflows int64 // out-of-order buffers that hit Options.MaxBuffer
}
