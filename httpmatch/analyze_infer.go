package httpmatch

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// When the proxy's front is TLS (roles.frontHidden), its 5xx cannot be
// read. Each chain of upstream attempts for one request (a failure, then
// the retries that began right after it) stands for one front request,
// and the 5xx the proxy must have sent is inferred from the last attempt.

// inferClientWindow bounds how long before its first upstream attempt a
// front request (TLS records from the client) may have arrived.
const inferClientWindow = time.Second

// maxConnectWait bounds a proxy's connect timeout (nginx's
// proxy_connect_timeout cannot exceed 75 s).
const maxConnectWait = 75 * time.Second

// decideInferred decides upstream attempt r when the front is hidden.
func (a *Analyzer) decideInferred(r *record) {
	if r.ex == nil && r.dead {
		return // a connect attempt that connected: its exchanges decide
	}
	outcome, at := outcomeOf(r)
	if at.IsZero() {
		return
	}
	retried := outcome.Failed() && a.retried(r, at)
	if retried {
		r.awaitRetry = true
		a.awaiting = insertByHeap(a.awaiting, r)
		return
	}
	chain := []attemptCand{{r: r, outcome: outcome, at: at, atNs: nanos(at)}}
	for len(chain) < maxAttempts {
		prev := a.previousAttempt(chain[len(chain)-1])
		if prev == nil {
			break
		}
		oc, pat := outcomeOf(prev)
		chain = append(chain, attemptCand{r: prev, outcome: oc, at: pat, atNs: nanos(pat)})
	}
	slices.Reverse(chain)
	attempts := make([]Attempt, len(chain))
	for i, c := range chain {
		c.r.used = true
		attempts[i] = attemptOf(c)
	}
	last := attempts[len(attempts)-1]
	status := inferredStatus(last, r)
	if status < 500 {
		for _, x := range attempts[:len(attempts)-1] {
			if x.Outcome.Failed() {
				a.stats.Requests++
				a.stats.HiddenFailures++
				inc := a.inferredIncident(chain, attempts, status)
				inc.Hidden = true
				a.markMissing(&inc, nil, chain)
				a.sink(inc)
				return
			}
		}
		if status > 0 {
			a.stats.Requests++
		}
		return
	}
	a.stats.Requests++
	a.stats.Responses5xx++
	inc := a.inferredIncident(chain, attempts, status)
	a.markMissing(&inc, nil, chain)
	a.stats.ByCause[inc.Cause]++
	a.sink(inc)
}

// inferredStatus is what the proxy answers after its last attempt, as nginx
// would: the backend's own status when it relayed one, 504 after a
// timeout, 502 after any other failure. An answer without a status line
// is relayed by nginx as an HTTP/0.9 body, not as a 5xx: 0.
func inferredStatus(last Attempt, r *record) int {
	switch last.Outcome {
	case OutcomeOK, BackendStatus:
		return last.Status
	case ConnectTimeout, UpstreamTimeout:
		return 504
	case InvalidResponse:
		if r.ex != nil && r.ex.status == 0 {
			return 0
		}
	}
	return 502
}

// retried reports whether another attempt began right after failed attempt
// r ended at at, with no answer to a client in between: the proxy tried
// the next upstream for the same request.
func (a *Analyzer) retried(r *record, at time.Time) bool {
	lo, hi := at.Add(-slack), at.Add(maxRelay)
	fits := func(o *record) bool {
		return o != r && o.conn != r.conn && !o.conn.tls && o.startNs > r.startNs &&
			a.roles.inferredUpstream(o.conn.client, o.conn.server) && !a.answeredBetween(at, o.startTime())
	}
	for _, e := range byStart(a.failed, lo, hi) {
		if fits(e.r) {
			return true
		}
	}
	if r.ex != nil {
		if l := a.index[reqKey{r.ex.Request.Method, r.ex.Request.URI}]; l != nil {
			for _, e := range byStart(l.recs, lo, hi) {
				if fits(e.r) {
					return true
				}
			}
		}
	}
	return false
}

// previousAttempt finds the retried attempt that c's attempt followed.
func (a *Analyzer) previousAttempt(c attemptCand) *record {
	start := c.r.startTime()
	var best *record
	for _, e := range byHeapAt(a.awaiting, start.Add(-maxRelay), start.Add(slack)) {
		o := e.r
		if o.used || o.conn == c.r.conn || o.startNs >= c.r.startNs {
			continue
		}
		if o.ex != nil && c.r.ex != nil && (o.ex.Request.Method != c.r.ex.Request.Method || o.ex.Request.URI != c.r.ex.Request.URI) {
			continue
		}
		if a.answeredBetween(time.Unix(0, o.heapNs), start) {
			continue
		}
		best = o // the latest outcome before the retry
	}
	return best
}

// answeredBetween reports whether a TLS front sent anything to a client
// between from and to: then an attempt after from serves a new request.
func (a *Analyzer) answeredBetween(from, to time.Time) bool {
	if !to.After(from) {
		return false
	}
	for _, ev := range frontWindow(a.frontData, from.Add(time.Nanosecond), to) {
		if ev.toClient {
			return true
		}
	}
	return false
}

// frontOf finds the TLS front connection whose traffic brackets an
// inferred request: client bytes within inferClientWindow before its first
// attempt, and the proxy's first bytes to a client after its last outcome
// (within maxRelay). It returns that answer, or ok false.
func (a *Analyzer) frontOf(first, at time.Time, connectOnly bool) (ev frontEvent, ok bool) {
	// asked: the front connections that sent client bytes before the
	// first attempt, with the time of the last; the answer follows them.
	asked := map[*connState]time.Time{}
	for _, e := range frontWindow(a.frontData, first.Add(-inferClientWindow), first.Add(slack)) {
		if !e.toClient {
			asked[e.conn] = e.at.Time
		}
	}
	var fallback *frontEvent
	// The proxy answers right after the outcome (a timeout's 504 may
	// precede its close by a hair); a connect timeout whose SYNs are all
	// the wire shows is answered when the proxy gives up, later.
	hi := at.Add(maxRelay)
	if connectOnly {
		hi = at.Add(maxConnectWait)
	}
	for _, e := range frontWindow(a.frontData, at.Add(-time.Millisecond), hi) {
		if !e.toClient {
			continue
		}
		if t, ok := asked[e.conn]; ok && e.at.Time.After(t) {
			return e, true
		}
		if fallback == nil && !connectOnly && e.at.Time.Before(at.Add(maxRelay)) {
			fallback = &e
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return frontEvent{}, false
}

// inferredIncident builds the incident of an inferred front request.
func (a *Analyzer) inferredIncident(chain []attemptCand, attempts []Attempt, status int) Incident {
	last := &attempts[len(attempts)-1]
	lastAt := chain[len(chain)-1].at
	inc := Incident{
		Time: lastAt, Status: status, Upstream: last.Upstream, Cause: last.Outcome,
		Inferred: true, Attempts: attempts,
	}
	for _, c := range chain {
		if e := c.r.ex; e != nil {
			inc.Method, inc.URI, inc.Host = e.Request.Method, e.Request.URI, e.Request.Host
			break
		}
	}
	if status < 500 {
		inc.Cause = firstFailure(attempts)
	}
	ev, found := a.frontOf(chain[0].r.startTime(), lastAt, last.Outcome == ConnectTimeout)
	if found {
		inc.Time, inc.Client, inc.Proxy = ev.at.Time, ev.conn.client, ev.conn.server
		inc.Conns = append(inc.Conns, [2]netip.AddrPort{ev.conn.client, ev.conn.server})
	}
	for i := range attempts {
		at := &attempts[i]
		inc.Conns = append(inc.Conns, [2]netip.AddrPort{at.Local, at.Upstream})
		inc.Evidence = append(inc.Evidence, attemptEvidence(at)...)
	}
	fronts := "the TLS front"
	for s := range a.roles.tls {
		fronts = "the TLS front " + s.String()
		break
	}
	if inc.Proxy.IsValid() {
		fronts = "the TLS front " + inc.Proxy.String()
	}
	request := "the request"
	if inc.URI == "" {
		request = "a request (its method and URI are not on the wire: the proxy never sent it)"
	}
	client := "which client got it cannot be told from the timing (no TLS records to a client right after the last attempt)"
	if found {
		inc.Evidence = append(inc.Evidence, Evidence{ev.at.File, ev.at.Frame, ev.at.Time,
			fmt.Sprintf("TLS records from %s to %s", ev.conn.server, ev.conn.client)})
		client = fmt.Sprintf("the proxy's next TLS records went to %s (frame %d, %s after the last attempt ended): by timing, its client",
			ev.conn.client, ev.at.Frame, ms(ev.at.Time.Sub(lastAt)))
	}
	var what string
	if status >= 500 {
		what = fmt.Sprintf("inferred: %s is encrypted, so the proxy's %d for %s is not on the wire; it follows from the upstream side: %s; %s",
			fronts, status, request, explainChain(attempts), client)
		what = quoteProxy(what, inc.Cause, "") + noLiveNote(attempts, inc.Method, "")
	} else {
		what = fmt.Sprintf("inferred: %s is encrypted; upstream, %s; %s", fronts, explainChain(attempts), client)
	}
	inc.Explanation = what + "; the proxy's access log ($status, $upstream_addr), a capture with the TLS session keys (SSLKEYLOGFILE) " +
		"or one of a plain-HTTP front would decide it"
	return inc
}
