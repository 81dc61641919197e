package httpmatch

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"why502/flows"
)

// What an incident says: its attempts as a person reads them, the
// explanation in the proxy's words, the frames to open in Wireshark.

// raceIdle is the least idle time before a reused connection's request for
// a close right at the request to count as a keep-alive race: backends'
// idle timeouts are 0.5 s and up (the proxy sees the idle time a round trip
// shorter than the backend's timer), and a backend that closes within a few round
// trips of a fresh request is more likely reacting to it (a crash, a reset).
const raceIdle = 500 * time.Millisecond

// attemptOf fills an Attempt from a matched attemptCand.
func attemptOf(c attemptCand) Attempt {
	r, cs := c.r, c.r.conn
	at := Attempt{Upstream: cs.server, Local: cs.client, Outcome: c.outcome, Start: r.startTime()}
	fc := cs.view()
	if fc != nil && fc.Handshake != flows.Midstream {
		at.syn = fc.First
		at.syns = fc.SYNs
		at.synSpan = fc.SYNSpan
	}
	if r.ex == nil {
		if fc != nil && fc.Handshake == flows.Refused {
			at.close, at.closeKind, at.closeBy = fc.SYNACK, flows.CloseRST, flows.Server
		}
		return at
	}
	e := r.ex
	at.Status = e.status
	at.Reused = e.Index > 0
	at.Idle = r.idle
	at.request = e.reqStart()
	if e.respFlags&Missing == 0 {
		at.response = e.respStart()
		at.preview = e.Response.Preview
		if e.respFlags&BadHeader != 0 {
			at.preview = fmt.Sprintf("status %d, then a header field with a NUL or a byte not allowed in a field name", e.status)
		} else if at.preview == "" && e.status > 0 {
			at.preview = fmt.Sprintf("status %d %q", e.status, e.Response.Reason)
		}
	}
	if fc != nil && fc.Teardown.Kind != flows.CloseNone {
		at.close, at.closeKind, at.closeBy = fc.Teardown.At, fc.Teardown.Kind, fc.Teardown.By
	}
	if (at.Outcome == UpstreamClosed || at.Outcome == UpstreamReset) && at.Reused && fc != nil {
		d := at.close.Time.Sub(at.request.Time)
		rtt := max(fc.RTT, 50*time.Microsecond)
		if d <= 0 || (d <= 4*rtt && at.Idle >= raceIdle) {
			at.Outcome = KeepaliveRace
		}
	}
	return at
}

// incident builds the incident of front exchange f from its attempts.
func (a *Analyzer) incident(f *record, attempts []Attempt) Incident {
	e := f.ex
	inc := Incident{
		Time: e.respTime(), Status: e.status,
		Client: f.conn.client, Proxy: f.conn.server,
		Method: e.Request.Method, URI: e.Request.URI, Host: e.Request.Host,
		Attempts: attempts,
		Conns:    [][2]netip.AddrPort{{f.conn.client, f.conn.server}},
	}
	inc.Evidence = append(inc.Evidence, Evidence{e.Request.File, e.Request.Frame, e.reqTime(),
		fmt.Sprintf("request %s %s from %s", e.Request.Method, clip(e.Request.URI), f.conn.client)})
	for i := range attempts {
		at := &attempts[i]
		inc.Conns = append(inc.Conns, [2]netip.AddrPort{at.Local, at.Upstream})
		inc.Evidence = append(inc.Evidence, attemptEvidence(at)...)
	}
	inc.Evidence = append(inc.Evidence, Evidence{e.Response.File, e.Response.Frame, e.respTime(),
		fmt.Sprintf("%d from %s to %s", e.status, f.conn.server, f.conn.client)})

	sw := a.software(f.conn.server, e.Response.Server)
	if len(attempts) == 0 {
		waited := e.respTime().Sub(e.reqTime())
		if a.roles.upstreamVisible() || a.failSeen {
			if unreachableWait(inc.Status, waited) {
				inc.Cause, inc.Inferred = ConnectUnreachable, true
				inc.Explanation = quoteProxy(fmt.Sprintf("the proxy answered %d %s after the request and no SYN left for any backend, "+
					"though the upstream side is in the capture: likely an upstream address with no host behind it "+
					"(ARP or neighbour discovery unanswered for about 3 s); a capture without a filter, or with 'arp or tcp' "+
					"(IPv6: 'icmp6 or tcp'), on the proxy's upstream interface would decide it", inc.Status, ms(waited)), ConnectUnreachable, sw)
				return inc
			}
			inc.Cause = NoUpstream
			inc.Explanation = quoteProxy(fmt.Sprintf("the proxy answered %d %s after the request without any upstream connection in the capture "+
				"(all backends marked down, or the proxy answered itself)", inc.Status, ms(waited)), NoUpstream, sw)
			return inc
		}
		inc.Inferred = true
		inc.Cause, inc.Explanation = inferFromFront(inc.Status, waited, f.conn.server)
		return inc
	}
	last := &attempts[len(attempts)-1]
	inc.Upstream = last.Upstream
	inc.Cause = last.Outcome
	chain := explainChain(attempts)
	switch {
	case inc.Hidden || e.status < 500:
		inc.Explanation = chain + "; the client got " + fmt.Sprint(e.status)
		inc.Cause = firstFailure(attempts)
	case inc.Cause == OutcomeOK:
		inc.Cause = Unknown
		inc.Explanation = chain + fmt.Sprintf(", yet the proxy answered %d: the reason is not on the wire (check the proxy's error log)", inc.Status)
	default:
		inc.Explanation = quoteProxy(chain, inc.Cause, sw) + noLiveNote(attempts, e.Request.Method, sw)
	}
	return inc
}

// explainChain says what happened on each attempt, the last one last.
func explainChain(attempts []Attempt) string {
	var b strings.Builder
	if n := len(attempts) - 1; n > 0 {
		fmt.Fprintf(&b, "after %d failed attempt%s (", n, plural(n))
		for i := range attempts[:n] {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(explainAttempt(&attempts[i]))
		}
		b.WriteString("), ")
	}
	b.WriteString(explainAttempt(&attempts[len(attempts)-1]))
	return b.String()
}

// unreachableWait reports whether a 502 with no upstream attempt came
// after the time a kernel waits for an ARP (or neighbour) reply before
// failing the connect with EHOSTUNREACH: about 3 s.
func unreachableWait(status int, waited time.Duration) bool {
	return status == 502 && waited >= 2500*time.Millisecond && waited <= 4*time.Second
}

// noLiveNote says when nginx, after the attempts shown, had no server left
// to try: an error on a cached keep-alive connection gives nginx one more
// try than its group has servers, and once every server of the group was
// tried the extra try finds none. nginx then logs 'no live upstreams' and
// adds the group's name to $upstream_addr; the last failure shown is
// still what the client's 502 comes from.
func noLiveNote(attempts []Attempt, method string, sw Software) string {
	if sw != Nginx && sw != "" || len(attempts) < 2 {
		return ""
	}
	last := attempts[len(attempts)-1]
	if !last.Outcome.Failed() || !nginxRetries(last.Outcome, method) {
		return ""
	}
	cachedError := false
	ups := map[netip.AddrPort]bool{}
	for i, at := range attempts {
		ups[at.Upstream] = true
		if i < len(attempts)-1 && at.Reused && (at.Outcome == UpstreamClosed || at.Outcome == UpstreamReset || at.Outcome == KeepaliveRace) {
			cachedError = true
		}
	}
	if !cachedError || len(ups) < 2 {
		return ""
	}
	return "; nginx then had no live upstream left to try (every server of the group had been tried, and the failed " +
		"kept-alive connection had granted one more try): 'no live upstreams while connecting to upstream', " +
		"the group's name last in $upstream_addr"
}

// nginxRetries reports whether nginx's default proxy_next_upstream
// (error timeout) tries another server after this failure: always for a
// failed connect, and once the request was sent only for idempotent methods.
func nginxRetries(c Cause, method string) bool {
	switch c {
	case ConnectRefused, ConnectTimeout, ConnectUnreachable:
		return true
	case InvalidResponse:
		return false // invalid_header is not in the default
	}
	switch method {
	case "POST", "LOCK", "PATCH":
		return false
	}
	return true
}

func firstFailure(as []Attempt) Cause {
	for _, a := range as {
		if a.Outcome.Failed() {
			return a.Outcome
		}
	}
	return Unknown
}

// attemptEvidence lists an attempt's key frames.
func attemptEvidence(at *Attempt) []Evidence {
	var ev []Evidence
	add := func(f flows.FrameRef, what string) {
		if f.Frame > 0 {
			ev = append(ev, Evidence{f.File, f.Frame, f.Time, what})
		}
	}
	if !at.Reused {
		add(at.syn, fmt.Sprintf("SYN from %s to %s", at.Local, at.Upstream))
	}
	add(at.request, fmt.Sprintf("request from %s to %s", at.Local, at.Upstream))
	if at.response.Frame > 0 {
		what := fmt.Sprintf("response %d from %s", at.Status, at.Upstream)
		if at.Outcome == InvalidResponse {
			what = fmt.Sprintf("invalid response from %s: %s", at.Upstream, at.preview)
		}
		add(at.response, what)
	}
	if at.closeKind != flows.CloseNone && at.Outcome.Failed() {
		who := at.Upstream
		if at.closeBy == flows.Client {
			who = at.Local
		}
		add(at.close, fmt.Sprintf("%s from %s", strings.ToUpper(at.closeKind.String()), who))
	}
	return ev
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
