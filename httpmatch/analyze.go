package httpmatch

import (
	"math"
	"net/netip"
	"time"

	"why502/flows"
	"why502/internal/timecmp"
)

// AnalyzeOptions tune an Analyzer. The zero value infers the roles from
// the traffic and uses the default timings.
type AnalyzeOptions struct {
	// Front names the proxy's listening addresses (--front); when empty
	// they are inferred.
	Front []netip.AddrPort
	// Upstream names the backends (--upstream); when empty they are inferred.
	Upstream []Endpoint
	// Parser bounds each connection's HTTP parser; Midstream is set per
	// connection from its handshake.
	Parser ParserOptions
	// Hold is how long, in capture time, a front response waits after it
	// was sent before it is decided: the upstream connection that explains
	// it is finished only flows.Options.Linger after its last packet.
	// Default DefaultHold.
	Hold time.Duration
	// Horizon is how long exchanges and failed connections are kept for
	// matching. Default DefaultHorizon.
	Horizon time.Duration
	// MaxAttempts bounds the connect attempts kept for matching (shed.go);
	// beyond it the oldest are shed, the least likely the proxy's first.
	// Default DefaultMaxAttempts.
	MaxAttempts int
}

// Defaults for the zero AnalyzeOptions.
const (
	DefaultHold    = flows.DefaultLinger + time.Second
	DefaultHorizon = 5 * time.Minute
)

// slack absorbs timestamp jitter between the front and upstream sides
// (two capture files, two interfaces).
const slack = 5 * time.Millisecond

// Incident is one front response with status >= 500 (or, with Hidden, a
// request that succeeded after a failed upstream attempt) and its cause.
type Incident struct {
	Time   time.Time // when the proxy sent the response
	Status int
	Client netip.AddrPort
	Proxy  netip.AddrPort
	Method string
	URI    string
	Host   string
	// Upstream is the backend of the last attempt; invalid when none.
	Upstream netip.AddrPort
	Cause    Cause
	Inferred bool
	// Missing says what the capture lacks that the verdict depends on
	// (a gap, a cut status line, a shed connection, the request itself);
	// Inferred is then true.
	Missing     []string
	Hidden      bool // a hidden failure: the request succeeded after failed attempts
	Attempts    []Attempt
	Explanation string
	Evidence    []Evidence
	// Conns are the connections involved, front first, for a display filter.
	Conns [][2]netip.AddrPort
}

// Attempt is one connection (or one exchange on a kept-alive connection)
// the proxy made to a backend for the request.
type Attempt struct {
	Upstream netip.AddrPort
	Local    netip.AddrPort
	Outcome  Cause
	Status   int  // the backend's status, 0 when none
	Reused   bool // a kept-alive connection carried an earlier exchange
	Idle     time.Duration
	Start    time.Time // SYN, or the request on a reused connection

	syn, request, response, close flows.FrameRef
	closeKind                     flows.CloseKind
	closeBy                       flows.Side
	syns                          int
	synSpan                       time.Duration
	preview                       string
}

// Evidence is one frame a person can open in Wireshark.
type Evidence struct {
	File  string
	Frame int64
	Time  time.Time
	What  string
}

// AnalyzeStats counts what an Analyzer decided.
type AnalyzeStats struct {
	Requests       int64 // front requests decided
	Responses5xx   int64
	HiddenFailures int64
	// WithoutRequest counts the 5xx (among Responses5xx) whose request is
	// not in the capture (the front connection seen mid-stream).
	WithoutRequest int64
	ByCause        map[Cause]int64
	// ShedAttempts counts the connect attempts dropped from matching
	// before Horizon: shed by the tracker with their connection, or
	// beyond MaxAttempts. ShedNotUpstream are those among them the roles
	// say were no upstream attempt (a SYN flood on the proxy's front).
	ShedAttempts, ShedNotUpstream int64
}

// IncidentFunc receives incidents as they are decided.
type IncidentFunc func(Incident)

// Analyzer turns the connections of a flows.Tracker into incidents. It is
// the Tracker's Handler (with WantData set; also its Starter and Updater),
// through a Front of its own whose events it applies at once (split.go:
// the same path as Front and Apply on two goroutines); the driver also calls Advance
// with each packet's time and Flush at the end. Incidents are handed to the
// sink in the order the proxy sent its responses, once capture time has
// moved Hold past them, so memory follows the concurrent activity within
// Horizon, not the size of the input. Not safe for concurrent use.
type Analyzer struct {
	opts  AnalyzeOptions
	sink  IncidentFunc
	roles *roles
	conns *connIndex[connState]
	now   time.Time
	nowNs int64 // now in Unix nanoseconds (nanos)

	queue     pendingQueue        // exchanges waiting for their decision
	index     map[reqKey]*recList // recent exchanges by method and URI, in start order
	recent    recentRing          // the latest exchanges, for the role vote
	front     *Front              // as the tracker's handler (Start, Data...)
	closing   *connState          // Apply: the connection of the last EventDone
	cands     []attemptCand       // candidates' scratch list
	chain     []attemptCand       // correlate's scratch list
	failed    []timed             // recent connect attempts, in start order
	lastSweep int64               // when prune last swept the lists (nanos)
	// unanswered are exchanges without a response, counted as requests
	// (if on a front) at the next sweep.
	unanswered []*record
	stats      AnalyzeStats
	failSeen   bool
	shed       shedLog // what was shed, for Incident.Missing (shed.go)

	softwares map[netip.AddrPort]Software // proxy software by front, from Server headers
	// With a TLS front (roles.frontHidden): failed upstream attempts that
	// were retried, waiting for the attempt that ends their chain, in
	// order of outcome; and the front's TLS traffic, in time order, to
	// tell which client an inferred incident went to.
	awaiting  []timed
	frontData []frontEvent

	// fastDecided counts the requests the fast lane decided; noFastLane
	// turns it off (tests compare the two paths).
	fastDecided int64
	noFastLane  bool
}

// connState is the analyzer's side of one connection.
type connState struct {
	id             uint64
	client, server netip.AddrPort
	final          *flows.Conn // set at Done
	// live is a copy of the connection until Done, refreshed by Update
	// events, for connect attempts seen from their SYN (flows.Starter):
	// their outcome may be needed before they are done.
	live    *flows.Conn
	attempt *record      // the connect-attempt record made at Start
	votes   *serverVotes // the server's role votes (roles.serverVotes)
	// tls: the client's first bytes were a TLS record; the connection is
	// not parsed, its traffic is kept as frontData.
	tls bool
	// midstream: the capture began after the handshake.
	midstream bool
	// parsed: the connection carried payload or a gap, so Front made it a
	// parser.
	parsed bool
	// gaps are the connection's first gaps (maxGapsKept), for Incident.Missing.
	gaps []flows.Gap
	list *recList // the list of its last exchange's method and URI
	// first is the time of its first packet, the start of its connect
	// attempt (record.startTime).
	first time.Time
}

type reqKey struct{ method, uri string }

// recList is one method and URI's recent exchanges, in start order; held
// by pointer so that an exchange costs one map lookup. fails are those
// among them not answered OK (answeredOK), for the fast lane.
type recList struct {
	recs, fails []timed
	key         reqKey
	gone        bool // deleted from the index by prune
}

// record is one exchange, or one failed connection (ex nil), kept for matching.
//
// Its times are Unix nanoseconds (nanos): as int64s they compare several
// times faster than as time.Time, and a record is smaller without them
// (seconds of exchanges wait for their decision). startTime gives the
// start as the capture has it.
type record struct {
	conn  *connState
	ex    *keptExchange // nil for a connect attempt
	idle  time.Duration
	inner *record // the upstream exchange it was paired with as the outer (roles.vote)
	// startNs is the request (or SYN) time; heapNs the time it is
	// decided from (setHeap); addedNs when it was added.
	startNs, heapNs, addedNs int64
	used, front, dead        bool
	// votedOuter, votedInner: the record took part in a role vote as
	// the front (outer) or the upstream (inner) exchange of a pair.
	votedOuter, votedInner bool
	heaped                 bool // setHeap was called
	// awaitRetry: a failed attempt (TLS front) decided as retried; the
	// attempt after it takes it into its chain.
	awaitRetry bool
	// orphan: a 5xx whose request is not in the capture (decideOrphan).
	orphan bool
}

// NewAnalyzer returns an Analyzer that hands incidents to sink.
func NewAnalyzer(opts AnalyzeOptions, sink IncidentFunc) *Analyzer {
	if opts.Hold <= 0 {
		opts.Hold = DefaultHold
	}
	if opts.Horizon <= 0 {
		opts.Horizon = DefaultHorizon
	}
	a := &Analyzer{
		opts:  opts,
		sink:  sink,
		roles: newRoles(opts.Front, opts.Upstream),
		conns: newConnIndex[connState](),
		index: map[reqKey]*recList{},
		stats: AnalyzeStats{ByCause: map[Cause]int64{}},

		nowNs:     math.MinInt64,
		lastSweep: math.MinInt64,
	}
	a.front = NewFront(opts, func(b *EventBatch) *EventBatch {
		for i := range b.Events {
			ev := &b.Events[i]
			a.Apply(b, ev)
			if t, ok := ev.Advances(); ok {
				a.Advance(t)
			}
		}
		b.Reset()
		return b
	})
	return a
}

// Stats returns the counts so far.
func (a *Analyzer) Stats() AnalyzeStats { return a.stats }

// view is the connection as known so far: final once done, live before.
func (cs *connState) view() *flows.Conn {
	if cs.final != nil {
		return cs.final
	}
	return cs.live
}

// Start implements flows.Starter. A connection that begins with a SYN is
// a connect attempt from its first packet on: one that is never answered
// must be able to explain a 504 long before the tracker gives up on it
// (flows.Options.IdleTimeout), and one that is refused before its Done.
func (a *Analyzer) Start(c *flows.Conn) { a.front.Start(c); a.front.Flush() }

// Update implements flows.Updater.
func (a *Analyzer) Update(c *flows.Conn) { a.front.Update(c); a.front.Flush() }

// Data implements flows.Handler.
func (a *Analyzer) Data(c *flows.Conn, ch flows.Chunk) { a.front.Data(c, ch); a.front.Flush() }

// Gap implements flows.Handler.
func (a *Analyzer) Gap(c *flows.Conn, g flows.Gap) { a.front.Gap(c, g); a.front.Flush() }

// Done implements flows.Handler.
func (a *Analyzer) Done(c *flows.Conn) { a.front.Done(c); a.front.Flush() }

// start applies an EventStart. c is a copy in an event batch, reused: the
// analyzer keeps a copy of its own.
func (a *Analyzer) start(c *flows.Conn) {
	if c.Handshake != flows.Unanswered {
		return // mid-stream: no connect attempt to speak of
	}
	a.clock(c.First.Time)
	if a.notAttempt(c) {
		return // to a proxy front: nothing to keep (shed.go)
	}
	live := *c
	cs := &connState{id: c.ID, client: unmap(c.Client), server: unmap(c.Server), live: &live}
	a.conns.set(c.ID, cs)
	r := a.newAttempt(cs, c.First.Time)
	cs.attempt = r
	a.failed = insertByStart(a.failed, r)
	a.limitAttempts()
	if a.roles.frontHidden() {
		// With a TLS front, a connect attempt is decided on its own, Hold
		// after its SYN, whenever the tracker ends it: live and offline
		// runs then decide it at the same capture time.
		r.setHeap(c.First.Time)
		a.queue.push(r)
	}
}

// isTLSRecord reports whether b starts with a TLS handshake record
// (content type 22, version 3.x): a ClientHello.
func isTLSRecord(b []byte) bool {
	return len(b) >= 3 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04
}

// done applies an EventDone; the exchanges its parser's Close finished
// follow it.
func (a *Analyzer) done(c *flows.Conn) {
	a.clock(c.Last)
	if a.releaseDone(c) {
		return // a connect attempt released with its shed connection
	}
	final := *c
	failed := c.Handshake == flows.Refused || c.Handshake == flows.Unanswered
	if failed {
		a.failSeen = true
	}
	cs := a.conns.get(c.ID)
	if cs == nil {
		if failed {
			// Seen without Start (a Tracker that does not call it).
			cs = &connState{id: c.ID, client: unmap(c.Client), server: unmap(c.Server)}
			r := a.newAttempt(cs, c.First.Time)
			cs.attempt = r
			a.failed = insertByStart(a.failed, r)
			a.limitAttempts()
		}
	} else {
		a.conns.del(c.ID)
	}
	if cs == nil {
		return // mid-stream, no payload: nothing was parsed, nothing to match
	}
	cs.final, cs.live = &final, nil
	if cs.attempt != nil && !failed {
		cs.attempt.dead = true // it connected: its exchanges are the attempts
	}
	if cs.attempt != nil && failed && a.roles.frontHidden() && !cs.attempt.heaped {
		// With a TLS front, a failed connect is decided on its own.
		if _, at := outcomeOf(cs.attempt); !at.IsZero() {
			cs.attempt.setHeap(at)
			a.queue.push(cs.attempt)
		}
	}
}

// exchange takes the record of a finished exchange (newExchange; nil
// when there is nothing to keep) from a connection's parser.
func (a *Analyzer) exchange(cs *connState, x *exchangeRecord) {
	if x == nil {
		return
	}
	r := &x.record
	r.conn, r.addedNs = cs, a.nowNs
	if r.orphan {
		// A 5xx without its request: nothing to match it with, but
		// it must still be counted and reported.
		r.setHeapNs(x.kept.respNs)
		a.queue.push(r)
		return
	}
	k := reqKey{x.kept.Request.Method, x.kept.Request.URI}
	a.roles.sawRequest(cs.client)
	l := a.listOf(cs, k)
	if l == nil {
		l = &recList{key: k}
		a.index[k] = l
	}
	cs.list = l
	a.roles.observe(r, l.recs, &a.recent)
	l.recs = insertByStart(l.recs, r)
	if !answeredOK(r) {
		l.fails = insertByStart(l.fails, r)
	}
	a.recent.add(r)
	if x.kept.status == 0 {
		// No response: never an incident, only a request to count once
		// its role is known. It is emitted when its connection ends,
		// seconds after its request, so it stays out of the decision
		// queue, which it would have to be inserted deep into.
		a.unanswered = append(a.unanswered, r)
		if a.roles.frontHidden() {
			// With a TLS front, a failed exchange is decided on its own.
			if _, at := outcomeOf(r); !at.IsZero() {
				r.setHeap(at)
				a.queue.push(r)
			}
		}
		return
	}
	r.setHeapNs(x.kept.respNs)
	a.queue.push(r)
}

// Advance moves capture time to t (the latest packet's time) and decides
// the front responses whose Hold has passed.
func (a *Analyzer) Advance(t time.Time) {
	a.clock(t)
	// Once per packet: in nanoseconds, not time.Time (pprof).
	due := subNs(a.nowNs, int64(a.opts.Hold))
	for a.queue.len() > 0 && a.queue.nextNs() <= due {
		a.decide(a.queue.pop())
	}
	a.prune()
}

func (a *Analyzer) clock(t time.Time) {
	if ns := nanos(t); timecmp.After(&t, ns, &a.now, a.nowNs) {
		a.now, a.nowNs = t, ns
	}
}

// Flush decides everything still waiting. Call it after the Tracker's
// Flush, so that every connection is done.
func (a *Analyzer) Flush() {
	for a.queue.len() > 0 {
		a.decide(a.queue.pop())
	}
	a.countUnanswered()
}

// decide handles one exchange whose Hold has passed: if it was on a proxy
// front, it is correlated with its upstream attempts and, for a 5xx or a
// hidden failure, becomes an incident.
func (a *Analyzer) decide(r *record) {
	if r.used {
		return
	}
	if r.orphan {
		a.decideOrphan(r)
		return
	}
	if a.roles.inferredUpstream(r.conn.client, r.conn.server) {
		a.decideInferred(r)
		return
	}
	if r.ex == nil || !a.roles.isFrontConn(r.conn) {
		return // an upstream exchange, kept as an attempt candidate
	}
	r.front = true
	a.stats.Requests++
	if r.ex.status < 500 && a.fastLane(r) {
		return
	}
	chain := a.correlate(r)
	status := r.ex.status
	if status >= 500 {
		a.stats.Responses5xx++
		inc := a.incident(r, attemptsOf(chain))
		a.markMissing(&inc, r, chain)
		a.stats.ByCause[inc.Cause]++
		a.sink(inc)
		return
	}
	if len(chain) < 2 {
		return // one attempt at most: no retry, no hidden failure
	}
	attempts := attemptsOf(chain)
	// A failed attempt that was retried is a hidden failure; a single
	// attempt whose answer the proxy relayed is not, even when it looks
	// invalid to us (Caddy passes a NUL in a header name through).
	for _, at := range attempts[:max(0, len(attempts)-1)] {
		if at.Outcome.Failed() {
			a.stats.HiddenFailures++
			inc := a.incident(r, attempts)
			inc.Hidden = true
			a.markMissing(&inc, r, chain)
			a.sink(inc)
			return
		}
	}
}
