package httpmatch

import (
	"net/netip"
	"time"

	"why502/flows"
)

// An Analyzer's work splits in two: per connection (HTTP parsing: half of
// it on small-packet captures), and across connections (roles,
// correlation, incidents). Front does the first as the tracker's handler,
// in the tracker's goroutine, and writes what the second needs as Events,
// in order; Analyzer.Apply replays them in another goroutine. The
// Analyzer then sees the same calls, in the same order, at the same
// capture times as when it is the tracker's handler itself, so the
// incidents are the same: only the parsing moved. Connections are passed
// as copies (the tracker updates its own in place): at Start, at Done,
// and at each change of handshake or teardown (flows.Updater), which is
// all the Analyzer reads of a connection before its Done.

// EventKind says what an Event carries.
type EventKind uint8

// Event kinds, one per tracker call (Advance: the driver's clock).
const (
	EventStart    EventKind = iota + 1 // Conn: the connection after its first packet
	EventUpdate                        // Conn: its handshake or teardown changed
	EventData                          // a chunk of payload (parsed by Front)
	EventGap                           // a gap in a stream
	EventDone                          // Conn: the connection at its end
	EventExchange                      // an exchange the connection's parser finished
	EventAdvance                       // At.Time: capture time moved
)

// Most packets carry payload, so a packet's Advance follows its Data event
// at the Data's own time: Front folds it into that event (or into any
// event that has no time of its own), flagged advance, instead of adding
// an event. That halves the events on small-packet captures (pprof: the
// events' writing and replay were a tenth of both goroutines).

// Event is one step of a Front's output. The exported fields are what
// other observers of the connections (findings) read; the rest is the
// Analyzer's.
//
// Events are many (one per packet at least), so they are small: what
// only some kinds carry (exchanges, gaps, a new connection's client) is
// in the batch beside them.
type Event struct {
	Kind EventKind
	dir  flows.Dir
	// midstream: the connection was seen mid-stream (Data, Gap);
	// tlsFirst: the client's first bytes were TLS (Data); tls: the
	// connection is TLS (Data); fresh: the connection's first Data or
	// Gap, when Apply makes its state: after it, Data of a plain
	// connection has nothing for the Analyzer but its time.
	midstream, tlsFirst, tls, fresh bool
	// advance: capture time moves to At after this event (Advances).
	advance bool
	// withEx: a Data event that also carries the first exchange its
	// chunk finished (aux), as an EventExchange after it would.
	withEx bool
	// NewTurns are the connection's new turns (client data bursts: its
	// requests, on HTTP): since its previous Data event (Data), or since
	// its last Data event until its end (Done).
	NewTurns int32
	// aux is an index in the batch: of its exchanges (EventExchange, and
	// EventData withEx), gaps (EventGap), or frames (EventData of a TLS
	// connection).
	aux int32
	ID  uint64 // the connection's
	// Conn is a copy of the connection (Start, Update, Done), not shared
	// with the tracker; it belongs to the batch: valid until the batch is
	// Reset, so an observer copies what it keeps.
	Conn *flows.Conn
	// Server is the connection's (Data, Gap).
	Server netip.AddrPort
	// At is the time of a Data chunk's frame, and of an Advance, folded
	// or not. The frame itself is kept only where it is read: a TLS
	// connection's (the batch's frames), a gap's (in the gap). A whole
	// FrameRef here made every event 24 bytes larger, for one in a
	// thousand on most captures.
	At time.Time
}

// Advances reports whether capture time moves after ev, and to when: the
// observer's Advance follows its handling of ev (an EventAdvance has
// nothing else).
func (ev *Event) Advances() (time.Time, bool) { return ev.At, ev.advance }

// EventBatch is a run of Events, with the exchanges, gaps and clients
// they refer to.
type EventBatch struct {
	Events  []Event
	conns   []flows.Conn      // the Events' Conn, up to cap (frontConns)
	exs     []*exchangeRecord // EventExchange: the exchanges' records (newExchange; nil: nothing to keep)
	gaps    []flows.Gap
	frames  []flows.FrameRef          // EventData of TLS connections: their frames
	clients map[uint64]netip.AddrPort // Data, Gap: clients of the connections first seen in the batch
}

// NewEventBatch returns an empty batch with room for FrontBatch events:
// a batch grown by appends allocated twice that, each run (pprof: 7 MB of
// the 100 MB keep-alive capture's allocations, for four batches).
func NewEventBatch() *EventBatch {
	return &EventBatch{Events: make([]Event, 0, FrontBatch)}
}

// Reset empties b for reuse.
//
// The Events' Conn point into the batch's own conns: they are not
// cleared, only overwritten when the batch is filled again (pprof:
// clearing them was 5 % of the matching goroutine). The copies' Gaps,
// their own, are released, and so are the exchanges' records.
func (b *EventBatch) Reset() {
	b.Events = b.Events[:0]
	clear(b.conns)
	b.conns = b.conns[:0]
	clear(b.exs)
	b.exs = b.exs[:0]
	b.gaps = b.gaps[:0]
	b.frames = b.frames[:0]
	clear(b.clients)
}

// FrontBatch is how many events a Front gathers before handing them on;
// a batch also ends at frontConns connection copies. The copies live in
// the batch, reused: a SYN flood makes two per connection (Start, Done),
// and allocating each showed as a third of the time under the flood.
const (
	FrontBatch = 4096
	frontConns = 256
)

// Front is the per-connection half of an Analyzer (see Event): the
// tracker's Handler (with Starter and Updater) in the tracker's
// goroutine. Not safe for concurrent use; Apply the batches it hands to
// send, in order, to an Analyzer made with the same options.
type Front struct {
	opts  ParserOptions
	conns *connIndex[frontConn]
	batch *EventBatch
	send  func(*EventBatch) *EventBatch
}

// frontConn is the per-connection state a Front keeps: the parser, and
// whether the client spoke TLS.
type frontConn struct {
	parser       *ConnParser
	checked, tls bool
	turns        int32     // as of the last Data event
	lastEnd      time.Time // of its last exchange (newExchange)
}

// NewFront returns a Front that hands each full batch to send, which
// returns an empty batch to go on with (it may block: that is the back
// pressure). opts are the Analyzer's.
func NewFront(opts AnalyzeOptions, send func(*EventBatch) *EventBatch) *Front {
	return &Front{opts: opts.Parser, conns: newConnIndex[frontConn](), batch: NewEventBatch(), send: send}
}

// Flush hands on the events gathered so far.
func (f *Front) Flush() {
	if len(f.batch.Events) > 0 {
		f.batch = f.send(f.batch)
	}
}

func (f *Front) add(ev Event) {
	b := f.batch
	b.Events = append(b.Events, ev)
	if len(b.Events) >= FrontBatch || len(b.conns) == cap(b.conns) && cap(b.conns) > 0 {
		f.batch = f.send(b)
	}
}

// snapshot copies c into the batch, for the next event added.
func (f *Front) snapshot(c *flows.Conn) *flows.Conn {
	b := f.batch
	if b.conns == nil {
		b.conns = make([]flows.Conn, 0, frontConns)
	}
	b.conns = append(b.conns, *c) // within cap: add sends a full batch
	s := &b.conns[len(b.conns)-1]
	if len(c.Gaps) > 0 {
		s.Gaps = append([]flows.Gap(nil), c.Gaps...) // the tracker appends to its own
	}
	return s
}

// Advance records that capture time moved to t (after each packet).
func (f *Front) Advance(t time.Time) {
	if n := len(f.batch.Events); n > 0 {
		ev := &f.batch.Events[n-1]
		switch {
		case ev.advance:
		case ev.Kind != EventData:
			ev.At, ev.advance = t, true
			return
		case ev.At.Equal(t):
			ev.advance = true
			return
		}
	}
	f.add(Event{Kind: EventAdvance, At: t, advance: true})
}

// Start implements flows.Starter.
func (f *Front) Start(c *flows.Conn) {
	f.add(Event{Kind: EventStart, ID: c.ID, Conn: f.snapshot(c)})
}

// Update implements flows.Updater.
func (f *Front) Update(c *flows.Conn) {
	f.add(Event{Kind: EventUpdate, ID: c.ID, Conn: f.snapshot(c)})
}

// conn returns c's state, its parser made on first use (at the
// connection's first Data or Gap, when Apply makes the Analyzer's state:
// splitState); fresh says it was.
func (f *Front) conn(c *flows.Conn) (fc *frontConn, fresh bool) {
	fc = f.conns.get(c.ID)
	if fc == nil {
		fresh = true
		// Apply makes the connection's state at its first Data or Gap
		// (when Start did not): it needs the client.
		if f.batch.clients == nil {
			f.batch.clients = map[uint64]netip.AddrPort{}
		}
		f.batch.clients[c.ID] = c.Client
		fc = &frontConn{}
		f.conns.set(c.ID, fc)
		po := f.opts
		po.Midstream = c.Handshake == flows.Midstream
		fc.parser = NewConnParser(po, frontSink{f, fc, c.ID})
	}
	return fc, fresh
}

// Data implements flows.Handler: Analyzer.Data's TLS check and parsing.
func (f *Front) Data(c *flows.Conn, ch flows.Chunk) {
	fc, fresh := f.conn(c)
	ev := Event{Kind: EventData, ID: c.ID, Server: c.Server, NewTurns: int32(c.Turns) - fc.turns,
		midstream: c.Handshake == flows.Midstream, fresh: fresh, At: ch.At.Time, dir: ch.Dir}
	if !fc.checked && ch.Dir == flows.ClientToServer && len(ch.Data) > 0 {
		fc.checked = true
		if c.Handshake != flows.Midstream && isTLSRecord(ch.Data) {
			fc.tls, ev.tlsFirst = true, true
		}
	}
	ev.tls = fc.tls
	if ev.tls {
		f.batch.frames = append(f.batch.frames, ch.At)
		ev.aux = int32(len(f.batch.frames) - 1)
	}
	fc.turns = int32(c.Turns)
	f.add(ev)
	if fc.tls {
		return
	}
	fc.parser.Data(ch.Dir, ch.Data, ch.At)
}

// Gap implements flows.Handler.
func (f *Front) Gap(c *flows.Conn, g flows.Gap) {
	fc, _ := f.conn(c)
	f.batch.gaps = append(f.batch.gaps, g)
	f.add(Event{Kind: EventGap, ID: c.ID, Server: c.Server, midstream: c.Handshake == flows.Midstream,
		aux: int32(len(f.batch.gaps) - 1)})
	if fc.tls {
		return
	}
	fc.parser.Gap(g.Dir, g.Len, g.At, g.Snaplen)
}

// Done implements flows.Handler.
func (f *Front) Done(c *flows.Conn) {
	fc := f.conns.get(c.ID)
	ev := Event{Kind: EventDone, ID: c.ID, Conn: f.snapshot(c), NewTurns: int32(c.Turns)}
	if fc != nil {
		ev.NewTurns -= fc.turns
	}
	f.add(ev)
	if fc == nil {
		return
	}
	f.conns.del(c.ID)
	at := c.Teardown.At
	if c.Teardown.Kind == flows.CloseNone {
		at = flows.FrameRef{File: c.First.File, Time: c.Last}
	}
	fc.parser.Close(at)
}

// frontSink turns a parser's exchanges into events of its Front.
// Its record is made here, in the parsing goroutine: the Exchange, twice
// the size of what the matching keeps of it, is not copied into the
// batch.
type frontSink struct {
	f  *Front
	fc *frontConn
	id uint64
}

func (s frontSink) Exchange(e *Exchange) {
	b := s.f.batch
	b.exs = append(b.exs, newExchange(e, &s.fc.lastEnd))
	aux := int32(len(b.exs) - 1)
	// Most exchanges end in a Data call, right after its event: the
	// exchange rides on that event instead of one of its own (a third of
	// the events on small keep-alive requests).
	if n := len(b.Events); n > 0 {
		if ev := &b.Events[n-1]; ev.Kind == EventData && ev.ID == s.id && !ev.withEx && !ev.tls && !ev.advance {
			ev.withEx, ev.aux = true, aux
			return
		}
	}
	s.f.add(Event{Kind: EventExchange, ID: s.id, aux: aux})
}

// Apply replays one event of batch b (from a Front) on a; when it
// Advances, call Advance after it (and after other observers' handling).
// Events must be applied in order, all of a batch before the next batch's.
func (a *Analyzer) Apply(b *EventBatch, ev *Event) {
	switch ev.Kind {
	case EventStart:
		a.start(ev.Conn)
	case EventUpdate:
		if cs := a.conns.get(ev.ID); cs != nil && cs.live != nil {
			*cs.live = *ev.Conn // the analyzer's own copy (start)
		}
	case EventData:
		if !ev.advance {
			a.clock(ev.At) // else Advance takes the same time
		}
		if ev.fresh || ev.tls {
			cs := a.splitState(b, ev)
			if ev.tlsFirst {
				cs.tls = true
				a.roles.sawTLS(cs.server)
			}
			if cs.tls {
				a.frontData = append(a.frontData, frontEvent{conn: cs, at: b.frames[ev.aux], toClient: ev.dir != flows.ClientToServer})
			}
		} // else its state is made; nothing to take but the time
		if ev.withEx {
			a.applyExchange(b, ev)
		}
	case EventGap:
		a.splitState(b, ev).keepGap(b.gaps[ev.aux])
	case EventDone:
		a.closing = a.conns.get(ev.ID)
		a.done(ev.Conn)
	case EventExchange:
		a.applyExchange(b, ev)
	}
}

// applyExchange takes the exchange of ev (EventExchange, or EventData
// withEx).
func (a *Analyzer) applyExchange(b *EventBatch, ev *Event) {
	cs := a.conns.get(ev.ID)
	if cs == nil {
		cs = a.closing // the exchanges its parser's Close finished
	}
	a.exchange(cs, b.exs[ev.aux])
}

// splitState returns the Analyzer's state of the connection of a Data or
// Gap event, made at its first (when Start did not make it); its parser
// is Front's.
func (a *Analyzer) splitState(b *EventBatch, ev *Event) *connState {
	cs := a.conns.get(ev.ID)
	if cs == nil {
		cs = &connState{id: ev.ID, client: unmap(b.clients[ev.ID]), server: unmap(ev.Server)}
		a.conns.set(ev.ID, cs)
	}
	if !cs.parsed {
		cs.parsed, cs.midstream = true, ev.midstream
	}
	return cs
}
