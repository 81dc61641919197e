package httpmatch

// The fast lane: most front requests are answered below 500 from one clean
// upstream answer, the pair the role vote already found (roles.observe).
// When no failed attempt lies in such a request's window, correlate could
// only pick an OK answer with the request's status, and a chain of one
// attempt is no incident: the vote's pair is marked used, as correlate
// would mark its choice, and the candidate search, its sort and the claims
// are skipped. Requests with any failure nearby take the full path, so
// hidden failures (a retried failed attempt) are still found.
// (pprof, 100 MB of small keep-alive requests: correlate was a third of
// the matching goroutine.)

// fastLane decides front exchange f (status below 500) if it qualifies,
// and reports whether it did.
func (a *Analyzer) fastLane(f *record) bool {
	u := f.inner
	if a.noFastLane || u == nil || !f.mayClaim(u) || !answeredOK(u) ||
		u.ex.status != f.ex.status || u.startNs < f.startNs || u.startNs >= f.ex.respNs ||
		!a.roles.isUpstreamConn(u.conn, f.conn) {
		return false
	}
	// The window of candidates, widened by slack as correlate's second
	// search is.
	lo, hi := subNs(f.startNs, int64(slack)), subNs(f.ex.respNs, -int64(slack))
	if l := a.listOf(f.conn, reqKey{f.ex.Request.Method, f.ex.Request.URI}); l != nil {
		for _, e := range byStartNs(l.fails, lo, hi) {
			if f.mayClaim(e.r) {
				return false
			}
		}
	}
	for _, e := range byStartNs(a.failed, lo, hi) {
		if r := e.r; f.mayClaim(r) {
			if _, at := outcomeOf(r); !at.IsZero() {
				return false
			}
		}
	}
	u.used = true
	a.fastDecided++
	return true
}
