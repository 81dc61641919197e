package httpmatch

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"why502/flows"
)

// What an incident's evidence lacks (Incident.Missing), and which capture
// would supply it. A verdict drawn from a stream with a hole in it is a
// guess; saying so is worth more than a confident wrong answer (issue 8).

// maxGapsKept bounds the gaps an analyzer keeps per connection, as
// flows.Conn keeps the first of them.
const maxGapsKept = 8

// maxMissing bounds the phrases of one incident's Missing.
const maxMissing = 8

// lack is what one incident's evidence lacks, and what would decide it.
type lack struct {
	what                                         []string
	more                                         int
	lost, snaplen, shed, expired, resync, before bool
}

func (l *lack) add(format string, args ...any) {
	if len(l.what) >= maxMissing {
		l.more++
		return
	}
	l.what = append(l.what, fmt.Sprintf(format, args...))
}

// gap names one gap of a connection; which is "front" or "upstream".
func (l *lack) gap(g flows.Gap, which string) {
	part := which + " request"
	if g.Dir == flows.ServerToClient {
		part = which + " response"
	}
	if g.Snaplen {
		l.snaplen = true
		l.add("%d bytes of the %s cut by the capture's snapshot length (frame %d)", g.Len, part, g.At.Frame)
		return
	}
	l.lost = true
	l.add("gap of %d bytes in the %s (frame %d)", g.Len, part, g.At.Frame)
}

// flags names what a message's flags say is missing of it: a start line
// cut short (its status may be wrong), or, when the verdict rests on it
// (headers: an upstream answer below 500 is taken only when complete), a
// header block cut short. A relayed or front status read whole does not
// depend on the headers after it.
func (l *lack) flags(f Flags, what string, at flows.FrameRef, headers bool) {
	if f&Partial != 0 && (f&startCut != 0 || headers) {
		part := "header"
		if f&startCut != 0 {
			part = "status line"
		}
		if f&Snaplen != 0 {
			l.snaplen = true
			l.add("%s of the %s cut by the capture's snapshot length (frame %d)", part, what, at.Frame)
		} else {
			l.lost = true
			l.add("%s of the %s cut by a gap (frame %d)", part, what, at.Frame)
		}
	}
	if f&Resynced != 0 {
		l.resync = true
		l.add("bytes before the %s could not be parsed (the parse resynchronized at frame %d)", what, at.Frame)
	}
}

// decides says which capture (or run) would supply what is missing.
func (l *lack) decides() string {
	var d []string
	if l.snaplen {
		d = append(d, "a capture at full length (tcpdump -s 0)")
	}
	if l.lost || l.resync {
		d = append(d, "a capture without drops (a bigger -B buffer, a narrower filter, writing to a local disk)")
	}
	if l.before {
		d = append(d, "a capture started before the client's connection opened")
	}
	if l.shed {
		d = append(d, "a run with a larger --max-conns")
	}
	if l.expired {
		d = append(d, "a run with a longer --idle-timeout")
	}
	return strings.Join(d, ", or ")
}

// list is Incident.Missing.
func (l *lack) list() []string {
	if l.more > 0 {
		return append(l.what, fmt.Sprintf("%d more", l.more))
	}
	return l.what
}

// markMissing adds to inc what the capture lacks of front exchange f (nil
// with a TLS front) and of its attempts: gaps in a backend's answer,
// status lines cut or found by resynchronizing,
// upstream connections shed or expired before their end. Such an incident
// is inferred, and its explanation ends with what would decide it.
func (a *Analyzer) markMissing(inc *Incident, f *record, chain []attemptCand) {
	var l lack
	if f != nil && f.ex != nil {
		e := f.ex
		l.flags(e.reqFlags, "front request", e.reqStart(), false)
		l.flags(e.respFlags, "front response", e.respStart(), false)
		// The front's gaps matter where the verdict reads the stream: the
		// 5xx's status line (its flags say when it was cut) and the parse
		// up to it (Resynced). Bytes missing from a request body or from
		// the 5xx's headers and body change nothing the verdict rests on.
	}
	for _, c := range chain {
		cs := c.r.conn
		lo, hi := c.r.startTime(), c.at
		if e := c.r.ex; e != nil {
			l.flags(e.respFlags, "upstream response", e.respStart(), e.status > 0 && e.status < 500)
		}
		// Upstream, what the backend sent is the evidence: a gap in its
		// direction after the request and before its status was read (or
		// before the outcome, when none was) may hide an answer. The
		// request direction's gaps are the capture's loss, not the
		// backend's: it got those bytes.
		for _, g := range cs.gaps {
			if c.r.ex == nil || g.Dir != flows.ServerToClient || g.At.Time.Before(lo) || g.At.Time.After(hi) {
				continue
			}
			if x := c.r.ex; x.status > 0 && !g.At.Time.Before(x.respTime()) {
				continue // within a response whose status was read: the flags say what matters
			}
			l.gap(g, "upstream")
		}
		if v := cs.view(); v != nil && v.Teardown.Kind == flows.CloseNone {
			switch {
			case v.Shed:
				l.shed = true
				l.add("upstream connection %s -> %s shed at --max-conns before its end", cs.client, cs.server)
			case v.Expired:
				l.expired = true
				l.add("upstream connection %s -> %s expired idle past --idle-timeout before its end", cs.client, cs.server)
			}
		}
	}
	a.markShed(&l, f, chain)
	if len(l.what) == 0 {
		return
	}
	inc.Missing = l.list()
	inc.Inferred = true
	inc.Explanation += "; the evidence is incomplete (" + strings.Join(inc.Missing, "; ") + "): " + l.decides() + " would decide it"
}

// keepGap remembers one of a connection's first gaps, for markMissing.
func (cs *connState) keepGap(g flows.Gap) {
	if len(cs.gaps) < maxGapsKept {
		cs.gaps = append(cs.gaps, g)
	}
}

// decideOrphan reports a 5xx the proxy sent on a front connection whose
// request is not in the capture: nothing can be matched with it, but it
// must not vanish from the counts.
func (a *Analyzer) decideOrphan(r *record) {
	if !a.roles.isFrontConn(r.conn) {
		return
	}
	r.front = true
	e := r.ex
	shed := a.frontShed(r.conn, e.respTime())
	if !shed {
		a.stats.Requests++ // a shed one's request was counted, unanswered, with its connection
	}
	a.stats.Responses5xx++
	a.stats.WithoutRequest++
	var l lack
	why := "no request before it on its connection: the proxy answered unasked, or the request was not captured"
	switch {
	case shed:
		why, l.shed = "its connection was shed at --max-conns before the response, and the request with it", true
	case slices.ContainsFunc(r.conn.gaps, func(g flows.Gap) bool { return g.Dir == flows.ClientToServer }):
		why, l.lost = "lost in a gap of the capture", true
	case r.conn.midstream:
		why, l.before = "capture began mid-connection", true
	default:
		l.lost = true
	}
	if shed {
		l.add("front connection %s -> %s shed at --max-conns before the response: its request was dropped with it", r.conn.client, r.conn.server)
	} else {
		l.add("request not in the capture (%s)", why)
	}
	l.flags(e.respFlags, "front response", e.respStart(), false)
	inc := Incident{
		Time: e.respTime(), Status: e.status,
		Client: r.conn.client, Proxy: r.conn.server,
		Cause: Unknown, Inferred: true, Missing: l.list(),
		Conns: [][2]netip.AddrPort{{r.conn.client, r.conn.server}},
		Evidence: []Evidence{{e.Response.File, e.Response.Frame, e.respTime(),
			fmt.Sprintf("%d from %s to %s, its request not in the capture", e.status, r.conn.server, r.conn.client)}},
	}
	inc.Explanation = fmt.Sprintf("the proxy answered %d (frame %d) to a request that is not in the capture (%s): without its method and URI "+
		"no upstream attempt can be matched with it; the evidence is incomplete (%s): %s would decide it",
		e.status, e.Response.Frame, why, strings.Join(inc.Missing, "; "), l.decides())
	a.stats.ByCause[Unknown]++
	a.sink(inc)
}
