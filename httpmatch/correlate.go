package httpmatch

import (
	"slices"
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
	if f.ex.status == 0 {
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
	status := f.ex.status
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
		limitNs := subNs(next.r.startNs, -int64(slack)) // a retry starts once the previous attempt failed
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
	start, wait, conn := c.r.startNs, f.ex.durNs(), c.r.conn
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
		if o.ex == nil || o.startNs > start || o.ex.durNs() >= wait || o.ex.status == 0 || o == f || o.used || o.front || o.orphan || o.conn == conn {
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

// mayClaim reports whether r may still be one of front exchange f's
// attempts: not taken by another request, not decided as a front itself,
// not dead, and on another connection.
func (f *record) mayClaim(r *record) bool {
	return !r.used && !r.front && !r.dead && r.conn != f.conn
}

func fileOf(r *record) string {
	if r.ex != nil {
		return r.ex.Request.File
	}
	return r.conn.view().First.File
}

// candidates lists the unused attempts that fit front exchange f's time
// window; tol widens it for attempts captured in another file. The list
// is the Analyzer's scratch buffer, valid until the next call.
func (a *Analyzer) candidates(f *record, tol time.Duration) []attemptCand {
	file := f.ex.Response.File
	cands := a.cands[:0]
	// The window widened by tol: what is searched, and what attempts
	// from another file must start in.
	wideLo := nanos(f.ex.reqTime().Add(-tol))
	wideHi := nanos(f.ex.respTime().Add(tol))
	consider := func(r *record) {
		if !f.mayClaim(r) {
			return
		}
		lo, hi := f.startNs, f.ex.respNs
		if tol != 0 && fileOf(r) != file {
			lo, hi = wideLo, wideHi
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
	if l := a.listOf(f.conn, reqKey{f.ex.Request.Method, f.ex.Request.URI}); l != nil {
		for _, e := range byStartNs(l.recs, wideLo, wideHi) {
			consider(e.r)
		}
	}
	for _, e := range byStartNs(a.failed, wideLo, wideHi) {
		consider(e.r)
	}
	a.cands = cands
	return cands
}

// consistent reports whether an attempt's outcome can explain a front
// response with this status: a relayed answer has the same status, a
// failure gives a 5xx.
func consistent(c *attemptCand, status int) bool {
	if c.r.ex != nil && c.r.ex.status > 0 && c.outcome != InvalidResponse {
		return c.r.ex.status == status
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
	x := r.ex
	switch {
	case x.respFlags&(Invalid|BadFraming|TooLarge|BadHeader) != 0:
		return InvalidResponse, x.respTime()
	case x.status >= 500:
		return BackendStatus, x.hdrTime()
	case x.status > 0 && x.respFlags&Partial == 0:
		return OutcomeOK, x.hdrTime()
	}
	if c == nil {
		return Unknown, time.Time{}
	}
	td := c.Teardown
	switch {
	case td.Kind == flows.CloseNone:
		// Still open when the capture ended (or shed): the request is
		// known to have left, its fate is not.
		return Unknown, r.startTime()
	case td.By == flows.Client:
		return UpstreamTimeout, td.At.Time
	case td.Kind == flows.CloseRST:
		return UpstreamReset, td.At.Time
	}
	return UpstreamClosed, td.At.Time
}

// headerTime is when a response's header was complete, its start when
// that is unknown.
func headerTime(m *Response) time.Time {
	if !m.HeaderEnd.Time.IsZero() {
		return m.HeaderEnd.Time
	}
	return m.Start.Time
}
