package findings

import (
	"cmp"
	"container/heap"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"why502/httpmatch"
)

// Findings ends the collection (call it once, after the Analyzer's Flush)
// and returns the findings, ordered by start time.
func (c *Collector) Findings(cov Coverage) []Finding {
	for id, a := range c.pending {
		delete(c.pending, id)
		c.push(a)
	}
	for len(c.events) > 0 {
		c.use(heap.Pop(&c.events).(*event))
	}
	var out []Finding
	addrs := make([]netip.AddrPort, 0, len(c.servers))
	for a := range c.servers {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b netip.AddrPort) int { return a.Compare(b) })
	for _, a := range addrs {
		s := c.servers[a]
		if !c.upstreams[a] || c.fronts[a] {
			continue
		}
		out = append(out, c.down(s)...)
		if f, ok := c.writeTimeout(s); ok {
			out = append(out, f)
		}
		if f, ok := c.race(s); ok {
			out = append(out, f)
		}
	}
	for _, a := range sortedKeys(c.retries) {
		out = append(out, c.retry(a, c.retries[a]))
	}
	if f, ok := c.coverage(cov); ok {
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Kind == CaptureCoverage || b.Kind == CaptureCoverage {
			return cmp.Compare(boolInt(a.Kind == CaptureCoverage), boolInt(b.Kind == CaptureCoverage))
		}
		return a.Start.Compare(b.Start)
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[netip.AddrPort]V) []netip.AddrPort {
	keys := make([]netip.AddrPort, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return keys
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// down states backend_down windows, or stale_upstream for a server that
// never accepted a connection.
func (c *Collector) down(s *server) []Finding {
	if s.run != nil {
		if !s.okSeen {
			r := s.run
			return []Finding{{
				Kind: StaleUpstream, Upstream: s.addr, Start: r.first.time, End: r.last.time,
				Count: s.failures, Requests: countIn(s.failedStarts, r.first.time, time.Time{}),
				Retried:    countIn(s.retriedStart, r.first.time, time.Time{}),
				Conclusion: staleConclusion(s, r),
				Advice: fmt.Sprintf("remove %s from the proxy's upstream list (nginx `upstream` block, HAProxy `server`, Caddy `to`) or fix the service registration that put it there; "+
					"until then every request sent to it pays a failed connect, and requests that cannot be retried fail", s.addr),
				Evidence: r.evidence, Conns: r.conns,
			}}
		}
		c.closeRun(s) // still down at the end of the capture
	}
	var out []Finding
	for _, r := range s.windows {
		f := Finding{Kind: BackendDown, Upstream: s.addr, Count: r.count, Crash: r.crash, Conns: r.conns}
		f.Start = r.first.time
		if !r.wentDown.IsZero() {
			f.Start = r.wentDown
		}
		if r.nextOK != nil {
			f.End = r.nextOK.time
			f.Down = f.End.Sub(f.Start)
		}
		f.Requests = countIn(s.failedStarts, r.first.time, f.End)
		f.Retried = countIn(s.retriedStart, r.first.time, f.End)
		f.Evidence = append(slices.Clone(r.closeEv), r.evidence...)
		f.Conclusion, f.Advice = downWords(s, r, &f)
		out = append(out, f)
	}
	return out
}

func downWords(s *server, r *downRun, f *Finding) (string, string) {
	var b strings.Builder
	how := "refused"
	if r.refused < r.count {
		how = "refused or left unanswered"
	}
	fmt.Fprintf(&b, "the backend %s was down from %s", s.addr, clock(f.Start))
	if r.nextOK != nil {
		fmt.Fprintf(&b, " to %s (%.3f s): all %d connection(s) the proxy opened in between were %s, the next one at %s was accepted",
			clock(f.End), f.Down.Seconds(), r.count, how, clock(r.nextOK.time))
	} else {
		fmt.Fprintf(&b, " to the end of the capture: all %d connection(s) the proxy opened from %s on were %s", r.count, clock(r.first.time), how)
	}
	if r.prevOK != nil {
		fmt.Fprintf(&b, "; it had accepted a connection at %s", clock(r.prevOK.time))
	}
	advice := "find why the process stopped (its supervisor's log, `journalctl`, `dmesg` for the OOM killer) and shorten the time it takes to come back; " +
		"with several backends, let the proxy take a refusing one out quickly (nginx `max_fails`/`fail_timeout`, HAProxy health checks) and retry elsewhere"
	switch {
	case r.crashN > 0 && r.crash:
		fmt.Fprintf(&b, "; at %s it closed its %d open connection(s) within %s, with requests unanswered: a crash or kill, not an orderly restart", clock(r.wentDown), r.crashN, secs(r.closeSpan))
	case r.crashN > 1:
		fmt.Fprintf(&b, "; at %s it closed its %d open connection(s) within %s after their responses: a shutdown, then nothing listened", clock(r.wentDown), r.crashN, secs(r.closeSpan))
	case r.crashN == 1:
		fmt.Fprintf(&b, "; its last close (FIN) was at %s: an orderly stop, then nothing listened", clock(r.wentDown))
		advice = "a restart left a gap with nothing listening: drain the backend out of the proxy's rotation before stopping it, or hand the listening socket over (systemd socket activation, SO_REUSEPORT) so that connects are never refused"
	default:
		b.WriteString("; the capture does not show how it went down (no connection of it closed just before)")
	}
	if f.Requests > 0 || f.Retried > 0 {
		fmt.Fprintf(&b, "; it cost %d request(s) a 5xx and %d a retry elsewhere", f.Requests, f.Retried)
	}
	return b.String(), advice
}

func staleConclusion(s *server, r *downRun) string {
	how := "refused (RST: nothing listens there)"
	if r.refused == 0 {
		how = "left unanswered (no host behind it, or filtered)"
	} else if r.refused < r.count {
		how = "refused or left unanswered"
	}
	return fmt.Sprintf("the proxy kept connecting to %s, which never accepted a connection in the capture: all %d connects from %s to %s were %s; a stale address after a deploy, or a failed service registration",
		s.addr, s.failures, clock(r.first.time), clock(r.last.time), how)
}

// writeTimeout states a server closing connections a nearly constant time
// after the request, before answering.
func (c *Collector) writeTimeout(s *server) (Finding, bool) {
	med, lo, hi, n := s.premature.cluster(0.05, 2*time.Millisecond)
	if n < 2 || 2*n < s.premature.n {
		return Finding{}, false
	}
	f := Finding{
		Kind: WriteTimeout, Upstream: s.addr, Start: s.premFirst, End: s.premLast, Count: n,
		WriteTimeout: med, Jitter: hi - lo, Evidence: s.prematureEv, Conns: s.prematureConns,
	}
	f.Conclusion = fmt.Sprintf("the backend %s closed %d connection(s) %s (from %s to %s) after the request arrived, without answering: "+
		"a server-side write or response timeout of at most %s, shorter than these handlers (a Go net/http server with WriteTimeout closes when the handler returns, so the timeout itself may be shorter still)",
		s.addr, n, secs(med), secs(lo), secs(hi), secs(med))
	f.Advice = "raise the backend's write timeout (Go `http.Server.WriteTimeout`, gunicorn `--timeout`, PHP-FPM `request_terminate_timeout`) above its slowest handler, or make those handlers faster; " +
		"the proxy's `proxy_read_timeout` should stay above it so that the backend's own error, not a 502, reaches the client"
	return f, true
}

// race states keep-alive races on one upstream, with the backend's idle
// timeout inferred from its idle closes.
func (c *Collector) race(s *server) (Finding, bool) {
	r := c.races[s.addr]
	if r == nil || r.n == 0 {
		return Finding{}, false
	}
	med, lo, hi, n := s.idle.cluster(0.10, 5*time.Millisecond)
	f := Finding{
		Kind: KeepaliveRace, Upstream: s.addr, Start: r.first, End: r.last, Count: r.n,
		Retried: r.retried, Requests: r.n - r.retried, Methods: r.methods,
		ProxyIdleMax: s.maxReuseIdle, Evidence: r.evidence, Conns: r.conns,
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the proxy reused idle keep-alive connections to %s just as the backend closed them: %d race(s) (%s), %d answered 5xx, %d retried invisibly",
		s.addr, r.n, methodList(r.methods), f.Requests, f.Retried)
	if n >= 2 {
		f.IdleTimeout, f.IdleSamples, f.Jitter = med, n, hi-lo
		fmt.Fprintf(&b, "; the backend closes connections idle for %s (%d idle closes, %s to %s): its keep-alive idle timeout", secs(med), n, secs(lo), secs(hi))
	} else {
		fmt.Fprintf(&b, "; the reused connections had been idle %s to %s", secs(r.idle.min), secs(r.idle.max))
	}
	if s.maxReuseIdle > 0 {
		fmt.Fprintf(&b, "; the proxy reused connections after up to %s idle", secs(s.maxReuseIdle))
	}
	b.WriteString(": the backend's idle timeout is shorter than the proxy's")
	f.Conclusion = b.String()
	t := "the backend's idle timeout"
	if f.IdleTimeout > 0 {
		t = secs(f.IdleTimeout)
	}
	f.Advice = fmt.Sprintf("make the proxy close idle upstream connections before the backend does: nginx `keepalive_timeout` in the `upstream` block below %s (default 60 s), "+
		"HAProxy `timeout server-fin`/`pool-purge-delay` below it, Caddy `transport http { keepalive <d> }` below it; or raise the backend's idle timeout above the proxy's (Go `http.Server.IdleTimeout`). "+
		"POST and other non-idempotent requests are not retried (nginx `proxy_next_upstream ... non_idempotent` would, at the risk of running them twice)", t)
	return f, true
}

func methodList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

func (c *Collector) retry(up netip.AddrPort, r *retryAgg) Finding {
	outs := make([]string, 0, len(r.outcomes))
	for o, n := range r.outcomes {
		outs = append(outs, fmt.Sprintf("%d %s", n, o))
	}
	slices.Sort(outs)
	f := Finding{
		Kind: HiddenRetries, Upstream: up, Start: r.first, End: r.last, Count: r.requests, Retried: r.requests,
		ExtraLatency: r.extra, MaxExtraLatency: r.maxExtra, Evidence: r.evidence, Conns: r.conns,
	}
	f.Conclusion = fmt.Sprintf("%d request(s) failed first on %s (%s) and were retried on another connection or upstream: the client never saw these failures; they added %s in all, at most %s to one request",
		r.requests, up, strings.Join(outs, ", "), secs(r.extra), secs(r.maxExtra))
	f.Advice = fmt.Sprintf("look at why %s fails before it becomes visible: the proxy's log shows these attempts (nginx `$upstream_addr` with several addresses, `$upstream_status` \"502, 200\"); "+
		"a server that always fails should leave the rotation", up)
	return f
}

// coverage says what the capture could not decide, and how to capture it.
func (c *Collector) coverage(cov Coverage) (Finding, bool) {
	var issues []string
	var ev []httpmatch.Evidence
	n := 0
	if c.inferred > 0 {
		n++
		issues = append(issues, fmt.Sprintf("%d of %d 5xx were inferred from the client side alone: the proxy's connections to its backends are not in the capture (another interface, or another file)", c.inferred, c.incidents))
	}
	if c.incomplete > 0 {
		n++
		issues = append(issues, fmt.Sprintf("%d of %d 5xx rest on incomplete evidence (each incident's missing list says what: gaps, cut headers, shed connections, requests before the capture)", c.incomplete, c.incidents))
	}
	if cov.Capture.Truncated > 0 {
		n++
		issues = append(issues, fmt.Sprintf("%d packets were cut by the snapshot length: HTTP headers past the cut cannot be read", cov.Capture.Truncated))
	}
	if cov.Flows.Gaps > 0 {
		n++
		issues = append(issues, fmt.Sprintf("%d gaps (%d bytes) in TCP streams: packets missing from the capture (dropped by tcpdump or the kernel, or before the capture began)", cov.Flows.Gaps, cov.Flows.GapBytes))
	}
	if c.untracked > 0 {
		n++
		issues = append(issues, fmt.Sprintf("%d connections went to servers beyond the first %d seen, left out of these findings (a scan of many addresses?)", c.untracked, maxServers))
	}
	if cov.Capture.Filtered > 0 {
		issues = append(issues, fmt.Sprintf("%d TCP segments left out by the filter", cov.Capture.Filtered))
	}
	if cov.Analyze.Requests == 0 && c.incidents == 0 && len(c.upstreams) == 0 {
		n++
		issues = append(issues, "no HTTP request to a proxy was readable: the front side may be encrypted (TLS) or not captured")
	}
	if n == 0 {
		return Finding{}, false
	}
	f := Finding{Kind: CaptureCoverage, Start: cov.Capture.First, End: cov.Capture.Last, Count: n, Evidence: ev}
	f.Conclusion = fmt.Sprintf("the capture (%s, %s to %s) cannot decide everything: %s",
		strings.Join(cov.Files, ", "), clock(cov.Capture.First), clock(cov.Capture.Last), strings.Join(issues, "; "))
	var fronts []string
	for _, a := range sortedKeys(c.fronts) {
		fronts = append(fronts, fmt.Sprintf("port %d", a.Port()))
	}
	filter := "tcp"
	if len(fronts) > 0 {
		var ups []string
		for _, a := range sortedKeys(c.upstreams) {
			ups = append(ups, fmt.Sprintf("(host %s and port %d)", a.Addr(), a.Port()))
		}
		filter = "tcp and (" + strings.Join(append(fronts, ups...), " or ") + ")"
	}
	f.Advice = fmt.Sprintf("on the proxy's host, capture every interface at full length, with a large buffer so that nothing is dropped: `tcpdump -i any -s 0 -B 16384 -w proxy.pcap '%s'` "+
		"(the front side in clear text needs a capture behind the TLS terminator, or the proxy's upstream side alone)", filter)
	return f, true
}
