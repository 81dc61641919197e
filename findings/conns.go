package findings

import (
	"container/heap"
	"net/netip"
	"time"

	"why502/flows"
	"why502/httpmatch"
	"why502/internal/timecmp"
)

func (c *Collector) start(fc *flows.Conn) {
	c.clock(fc.First.Time)
	if fc.Handshake == flows.Unanswered {
		a := attemptOf(fc)
		c.pending[fc.ID] = &a
		at := fc.First.Time.Add(c.opts.ConnectTimeout)
		heap.Push(&c.due, dueConn{id: fc.ID, syn: fc.First.Time, at: at, atNs: timecmp.Nanos(at)})
		c.boundDue()
	}
}

// data takes a chunk of payload of a connection to server, which carried
// n new requests (client turns) since its previous chunk (Tap and Split
// count them per connection).
func (c *Collector) data(server netip.AddrPort, n int, t time.Time) {
	c.clock(t)
	c.countRequests(server, n, t)
}

// countRequests counts n requests to server at t. The tracker counts a
// turn after delivering its first bytes, so a request is seen at the next
// chunk either way, or at Done.
func (c *Collector) countRequests(server netip.AddrPort, n int, t time.Time) {
	if n > 0 {
		c.bucket(unmap(server), t).Requests += n
	}
}

// Advance moves capture time to t: connect attempts whose outcome is now
// known are taken, and outcomes older than Options.Reorder are used.
func (c *Collector) Advance(t time.Time) {
	c.clock(t)
	if c.opts.ConnectTimeout > c.opts.Reorder {
		c.resolveAll()
	} else {
		// An attempt's event is used Reorder after its SYN, and by then
		// (ConnectTimeout <= Reorder) its outcome is known: answered, or
		// timed out. Taking an answered attempt at its ConnectTimeout
		// instead of at its answer gives the same event (the handshake's
		// outcome does not change once decided), used at the same time.
		// Each entry holds the time it is due (its SYN + ConnectTimeout,
		// an event's time + Reorder), so this check, made at every
		// packet while the heap holds something, is one comparison
		// (perf: the Add it took was 2 % of analyze's CPU).
		for len(c.due) > 0 && !timecmp.After(&c.due[0].at, c.due[0].atNs, &c.now, c.nowNs) {
			d := heap.Pop(&c.due).(dueConn)
			if a := c.pending[d.id]; a != nil {
				c.resolve(a)
			}
		}
	}
	for len(c.events) > 0 && !timecmp.After(&c.events[0].useAt, c.events[0].useAtNs, &c.now, c.nowNs) {
		c.use(heap.Pop(&c.events).(*event))
	}
}

// resolveAll takes every pending attempt whose outcome is known.
func (c *Collector) resolveAll() {
	for _, a := range c.pending {
		if a.handshake != flows.Unanswered || c.now.Sub(a.first.Time) >= c.opts.ConnectTimeout {
			c.resolve(a)
		}
	}
	c.due = c.due[:0]
}

func (c *Collector) resolve(a *attempt) {
	delete(c.pending, a.id)
	c.resolved[a.id] = true
	c.push(a)
}

// dueConn is a pending connect attempt, its SYN's time, and when it is
// due: ConnectTimeout after.
type dueConn struct {
	id      uint64
	syn, at time.Time
	atNs    int64 // timecmp.Nanos(at)
}

type dueHeap []dueConn

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].syn.Before(h[j].syn) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueConn)) }
func (h *dueHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}

func (c *Collector) push(a *attempt) {
	ev := &event{
		server: c.server(a.server), time: a.first.Time, syn: a.first,
		client: unmap(a.client), useAt: a.first.Time.Add(c.opts.Reorder),
	}
	ev.useAtNs = timecmp.Nanos(ev.useAt)
	switch a.handshake {
	case flows.Established:
		ev.ok, ev.answer = true, a.synack
	case flows.Refused:
		ev.refused, ev.answer = true, a.synack
	case flows.Midstream:
		return // no connect to speak of
	}
	heap.Push(&c.events, ev)
	c.boundEvents()
}

// Conn takes a finished connection (flows.Handler.Done) and the requests
// (client turns) it carried that data did not count.
func (c *Collector) Conn(fc *flows.Conn, requests int) {
	c.clock(fc.Last)
	c.countRequests(fc.Server, requests, fc.Last)
	if p := c.pending[fc.ID]; p != nil {
		delete(c.pending, fc.ID)
		a := attemptOf(fc)
		c.push(&a)
	} else if c.resolved[fc.ID] {
		delete(c.resolved, fc.ID)
	} else if fc.SYNs > 0 {
		a := attemptOf(fc)
		c.push(&a) // a Tracker that did not call Start
	}
	s := c.server(fc.Server)
	if s == &c.overflow {
		c.untracked++
	}
	s.conns++
	if fc.Turns > 1 {
		s.maxReuseIdle = max(s.maxReuseIdle, fc.MaxIdle)
	}
	td := fc.Teardown
	if td.By != flows.Server || fc.Handshake == flows.Refused {
		return
	}
	s.addClose(closeEvent{
		time: td.At.Time, at: td.At, rst: td.Kind == flows.CloseRST,
		inFlight: td.PeerUnanswered, client: unmap(fc.Client),
	})
	if td.Kind != flows.CloseFIN {
		return
	}
	// A close with a request outstanding, some time after it arrived:
	// a candidate for a write (or response) timeout. A reused connection
	// closed right after a long idle is a keep-alive race instead.
	race := fc.Turns > 1 && fc.LastIdle >= 500*time.Millisecond && td.SincePeerData < 100*time.Millisecond
	if td.PeerUnanswered && td.HasPeerData && td.SincePeerData >= 10*time.Millisecond && !race {
		s.premature.add(td.SincePeerData)
		s.prematureEv = appendEvidence(s.prematureEv, c.opts.MaxEvidence, td.At, "FIN from "+s.addr.String()+" before any response, "+secs(td.SincePeerData)+" after the request")
		s.prematureConns = appendConn(s.prematureConns, c.opts.MaxEvidence, unmap(fc.Client), s.addr)
		if s.premFirst.IsZero() {
			s.premFirst = td.At.Time
		}
		s.premLast = td.At.Time
	}
	// An idle close: the server's FIN after its last response with no
	// request outstanding, or one crossing a request that arrived just
	// before (the race itself). Its delay after the server's own last
	// bytes is the server's idle timer.
	if td.HasOwnData && td.SinceOwnData >= 50*time.Millisecond &&
		(!td.PeerUnanswered || (td.HasPeerData && td.SincePeerData*10 < td.SinceOwnData)) {
		s.idle.add(td.SinceOwnData)
	}
}

func appendEvidence(l []httpmatch.Evidence, max int, at flows.FrameRef, what string) []httpmatch.Evidence {
	if len(l) >= max {
		return l
	}
	return append(l, httpmatch.Evidence{File: at.File, Frame: at.Frame, Time: at.Time, What: what})
}

// event is a connect outcome waiting in the reorder buffer.
type event struct {
	server  *server
	time    time.Time
	useAt   time.Time // Reorder after time
	useAtNs int64     // timecmp.Nanos(useAt)
	client  netip.AddrPort
	ok      bool
	refused bool
	syn     flows.FrameRef
	answer  flows.FrameRef
}

type eventHeap []*event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].time.Before(h[j].time) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
