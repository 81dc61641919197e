package httpmatch

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"why502/flows"
)

// maxAttempts bounds the retries chained to one front request.
const maxAttempts = 64

// attemptCand is a record that could be an upstream attempt of a front
// request, with the time its outcome reached the proxy.
type attemptCand struct {
	r       *record
	outcome Cause
	at      time.Time // when the proxy learned the outcome
	atNs    int64     // at in Unix nanoseconds (nanos)
	// claimed caches claimedElsewhere for this front request: 0 not
	// asked yet, 1 no, 2 yes. Nothing it depends on changes while one
	// front request is correlated.
	claimed int8
}

// correlate finds the upstream attempts of front exchange f, in order, and
// marks them used; attemptsOf makes them Attempts. The list is the
// Analyzer's scratch buffer, valid until the next call. The last attempt is the one whose outcome reached the
// proxy last before it answered (a proxy answers as soon as it knows);
// earlier ones are retries, each ended before the next began. Among
// concurrent identical requests the timing picks, and each attempt serves
// one front request only.
func (a *Analyzer) correlate(f *record) []attemptCand {
	if f.ex.Response.Status == 0 {
		return nil
	}
	cands := a.candidates(f, 0)
	if len(cands) == 0 {
		// Between files (two interfaces, two hosts) allow for timestamp
		// jitter, but only when nothing fits exactly: a tolerance would
		// otherwise let a request take the next request's attempts.
		cands = a.candidates(f, slack)
	}
	if len(cands) == 0 {
		return nil
	}
	// Latest outcome first; ties by connection for a stable choice.
	slices.SortFunc(cands, func(x, y attemptCand) int {
		if x.atNs != y.atNs {
			if x.atNs > y.atNs {
				return -1
			}
			return 1
		}
		return int(x.r.conn.id) - int(y.r.conn.id)
	})
	status := f.ex.Response.Status
	resp := f.ex.respNs
	// The last attempt: consistent with the status, not a tighter fit for
	// another request still waiting, and preferably one the proxy
	// answered right after (it relays at once).
	final := -1
	// A backend answer with the very status the proxy sent, relayed at
	// once, is the request's own: under load a refused connect (which
	// carries no URI) can end later than it and would otherwise be taken
	// for the last attempt, leaving the request it belongs to without one.
	for i := range cands {
		c := &cands[i]
		if c.r.ex != nil && c.r.ex.status == status && c.outcome != InvalidResponse &&
			subNs(resp, c.atNs) <= int64(maxRelay) && !a.claimedElsewhere(f, c) {
			final = i
			break
		}
	}
	// Otherwise: the consistent attempt whose outcome came last, within
	// maxRelay of the answer (the proxy answers once its last attempt
	// ends), unless another waiting request fits it tighter.
	for i := range cands {
		if final >= 0 {
			break
		}
		c := &cands[i]
		if consistent(c, status) && subNs(resp, c.atNs) <= int64(maxRelay) && !a.claimedElsewhere(f, c) {
			final = i
			break
		}
	}
	for pass := 0; pass < 2 && final < 0; pass++ {
		for i := range cands {
			c := &cands[i]
			if !consistent(c, status) {
				continue
			}
			if pass == 0 && a.claimedElsewhere(f, c) {
				continue
			}
			final = i
			break
		}
	}
	if final < 0 {
		// Nothing here can explain this answer: taking an attempt anyway
		// would steal it from the request it belongs to (under load, a
		// refused connect next to an unrelated 200).
		return nil
	}
	chain := append(a.chain[:0], cands[final])
	for len(chain) < maxAttempts {
		next := chain[len(chain)-1]
		limit := next.r.start.Add(slack) // a retry starts once the previous attempt failed
		limitNs := nanos(limit)
		found := -1
		for i := range cands {
			c := &cands[i]
			if c.r == next.r || slices.ContainsFunc(chain, func(x attemptCand) bool { return x.r == c.r }) {
				continue
			}
			if c.outcome == OutcomeOK || c.atNs > limitNs || c.r.startNs >= next.r.startNs {
				continue
			}
			if a.claimedElsewhere(f, c) {
				continue
			}
			found = i
			break // cands is latest first
		}
		if found < 0 {
			break
		}
		chain = append(chain, cands[found])
	}
	slices.Reverse(chain)
	for _, c := range chain {
		c.r.used = true
	}
	a.chain = chain
	return chain
}

// attemptsOf makes the Attempts of a chain of attempts.
func attemptsOf(chain []attemptCand) []Attempt {
	if len(chain) == 0 {
		return nil
	}
	out := make([]Attempt, len(chain))
	for i, c := range chain {
		out[i] = attemptOf(c)
	}
	return out
}

// claimedElsewhere reports whether attempt c fits another front request
// still waiting for its decision better than it fits f. How loosely an
// attempt fits a front request is the time from the request to the
// attempt's start plus the time from its outcome to the answer (a proxy
// dials and relays at once, so the owner fits tightest); for one attempt
// that comparison comes down to the front requests' waits (keptExchange.durNs). Under
// load, failed connects carry no URI and identical requests overlap; the
// tightest fit is the likeliest owner.
func (a *Analyzer) claimedElsewhere(f *record, c *attemptCand) bool {
	if c.claimed == 0 {
		c.claimed = 1
		if a.claimedBy(f, c) {
			c.claimed = 2
		}
	}
	return c.claimed == 2
}

func (a *Analyzer) claimedBy(f *record, c *attemptCand) bool {
	// The window holds the requests answered within maxRelay after c's
	// outcome; the cheap tests come first, they reject most.
	start, wait, conn := c.r.startNs, f.ex.durNs, c.r.conn
	// A request o that fits tighter started no later than c (o.startNs <=
	// start) and waited less than f (o.durNs < wait), so it was answered
	// before start+wait: the window ends there when that is sooner. Under
	// load that cuts a window of maxRelay (hundreds of responses) to the
	// few around f's own answer (pprof: claimedBy was 8 % of analyze).
	hi := subNs(c.atNs, -int64(maxRelay))
	if end := subNs(start, -wait); end < hi {
		hi = end
	}
	for _, e := range a.queue.window(c.atNs, hi) {
		o := e.r
		if o.ex == nil || o.startNs > start || o.ex.durNs >= wait || o.ex.status == 0 || o == f || o.used || o.front || o.orphan || o.conn == conn {
			continue
		}
		if c.r.ex != nil && (o.ex.Request.Method != c.r.ex.Request.Method || o.ex.Request.URI != c.r.ex.Request.URI) {
			continue
		}
		if consistent(c, o.ex.status) && a.roles.isFrontConn(o.conn) {
			return true
		}
	}
	return false
}

func fileOf(r *record) string {
	if r.ex != nil {
		return r.ex.Request.Start.File
	}
	return r.conn.view().First.File
}

// candidates lists the unused attempts that fit front exchange f's time
// window; tol widens it for attempts captured in another file. The list
// is the Analyzer's scratch buffer, valid until the next call.
func (a *Analyzer) candidates(f *record, tol time.Duration) []attemptCand {
	file := f.ex.Response.Start.File
	cands := a.cands[:0]
	lo := nanos(f.ex.Request.Start.Time.Add(-tol))
	hi := nanos(f.ex.Response.Start.Time.Add(tol))
	consider := func(r *record) {
		if r.used || r.front || r.dead || r.conn == f.conn {
			return
		}
		lo, hi := f.startNs, f.ex.respNs
		if tol != 0 && fileOf(r) != file {
			lo, hi = nanos(f.ex.Request.Start.Time.Add(-tol)), nanos(f.ex.Response.Start.Time.Add(tol))
		}
		if r.startNs < lo || r.startNs >= hi {
			return
		}
		if !a.roles.isUpstreamConn(r.conn, f.conn) {
			return
		}
		oc, at := outcomeOf(r)
		if at.IsZero() {
			return
		}
		atNs := nanos(at)
		late := hi
		if oc == UpstreamTimeout {
			late = subNs(hi, -int64(maxRelay)) // the proxy may answer 504 before it closes
		}
		if atNs > late {
			return
		}
		cands = append(cands, attemptCand{r: r, outcome: oc, at: at, atNs: atNs})
	}
	if l := a.index[reqKey{f.ex.Request.Method, f.ex.Request.URI}]; l != nil {
		for _, e := range byStartNs(l.recs, lo, hi) {
			consider(e.r)
		}
	}
	for _, e := range byStartNs(a.failed, lo, hi) {
		consider(e.r)
	}
	a.cands = cands
	return cands
}

// consistent reports whether an attempt's outcome can explain a front
// response with this status: a relayed answer has the same status, a
// failure gives a 5xx.
func consistent(c *attemptCand, status int) bool {
	if c.r.ex != nil && c.r.ex.Response.Status > 0 && c.outcome != InvalidResponse {
		return c.r.ex.Response.Status == status
	}
	return status >= 500
}

// outcomeOf classifies one attempt and says when its outcome reached the proxy.
func outcomeOf(r *record) (Cause, time.Time) {
	c := r.conn.view()
	if r.ex == nil {
		if c == nil {
			return Unknown, time.Time{}
		}
		switch c.Handshake {
		case flows.Refused:
			return ConnectRefused, c.SYNACK.Time
		case flows.Unanswered:
			// Done or not: SYNs and nothing back so far.
			return ConnectTimeout, c.Last
		}
		return Unknown, time.Time{} // it connected: not a failed attempt
	}
	resp := &r.ex.Response
	switch {
	case resp.Flags&(Invalid|BadFraming|TooLarge|BadHeader) != 0:
		return InvalidResponse, resp.Start.Time
	case resp.Status >= 500:
		return BackendStatus, keptHeaderTime(resp)
	case resp.Status > 0 && resp.Flags&Partial == 0:
		return OutcomeOK, keptHeaderTime(resp)
	}
	if c == nil {
		return Unknown, time.Time{}
	}
	td := c.Teardown
	switch {
	case td.Kind == flows.CloseNone:
		// Still open when the capture ended (or shed): the request is
		// known to have left, its fate is not.
		return Unknown, r.start
	case td.By == flows.Client:
		return UpstreamTimeout, td.At.Time
	case td.Kind == flows.CloseRST:
		return UpstreamReset, td.At.Time
	}
	return UpstreamClosed, td.At.Time
}

// keptHeaderTime is headerTime for a kept response.
func keptHeaderTime(m *keptResponse) time.Time {
	if !m.HeaderEnd.Time.IsZero() {
		return m.HeaderEnd.Time
	}
	return m.Start.Time
}

func headerTime(m *Response) time.Time {
	if !m.HeaderEnd.Time.IsZero() {
		return m.HeaderEnd.Time
	}
	return m.Start.Time
}

// raceIdle is the least idle time before a reused connection's request for
// a close right at the request to count as a keep-alive race: backends'
// idle timeouts are 0.5 s and up (the proxy sees the idle time a round trip
// shorter than the backend's timer), and a backend that closes within a few round
// trips of a fresh request is more likely reacting to it (a crash, a reset).
const raceIdle = 500 * time.Millisecond

// attemptOf fills an Attempt from a matched attemptCand.
func attemptOf(c attemptCand) Attempt {
	r, cs := c.r, c.r.conn
	at := Attempt{Upstream: cs.server, Local: cs.client, Outcome: c.outcome, Start: r.start}
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
	at.Status = e.Response.Status
	at.Reused = e.Index > 0
	at.Idle = r.idle
	at.request = e.Request.Start
	if e.Response.Flags&Missing == 0 {
		at.response = e.Response.Start
		at.preview = e.Response.Preview
		if e.Response.Flags&BadHeader != 0 {
			at.preview = fmt.Sprintf("status %d, then a header field with a NUL or a byte not allowed in a field name", e.Response.Status)
		} else if at.preview == "" && e.Response.Status > 0 {
			at.preview = fmt.Sprintf("status %d %q", e.Response.Status, e.Response.Reason)
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
		Time: e.Response.Start.Time, Status: e.Response.Status,
		Client: f.conn.client, Proxy: f.conn.server,
		Method: e.Request.Method, URI: e.Request.URI, Host: e.Request.Host,
		Attempts: attempts,
		Conns:    [][2]netip.AddrPort{{f.conn.client, f.conn.server}},
	}
	inc.Evidence = append(inc.Evidence, Evidence{e.Request.Start.File, e.Request.Start.Frame, e.Request.Start.Time,
		fmt.Sprintf("request %s %s from %s", e.Request.Method, clip(e.Request.URI), f.conn.client)})
	for i := range attempts {
		at := &attempts[i]
		inc.Conns = append(inc.Conns, [2]netip.AddrPort{at.Local, at.Upstream})
		inc.Evidence = append(inc.Evidence, attemptEvidence(at)...)
	}
	inc.Evidence = append(inc.Evidence, Evidence{e.Response.Start.File, e.Response.Start.Frame, e.Response.Start.Time,
		fmt.Sprintf("%d from %s to %s", e.Response.Status, f.conn.server, f.conn.client)})

	sw := a.software(f.conn.server, e.Response.Server)
	if len(attempts) == 0 {
		waited := e.Response.Start.Time.Sub(e.Request.Start.Time)
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
	case inc.Hidden || e.Response.Status < 500:
		inc.Explanation = chain + "; the client got " + fmt.Sprint(e.Response.Status)
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
