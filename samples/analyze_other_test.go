package samples

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"why502/httpmatch"
)

// HAProxy logs %Ts, the accept date (for a later request on a kept-alive
// client connection, the end of the previous one), and %Ta, the active
// time from the request's first byte to the response's last; the idle time
// before the first byte (%Ti) is not in the format. The proxy's 5xx
// therefore left at or after %Ts + %Ta (less the millisecond rounding of
// both), and at most the idle timeout later (haproxy.cfg.in: timeout
// http-keep-alive 30s).
const (
	haproxyRounding = 2 * time.Millisecond
	haproxyMaxIdle  = 30 * time.Second
)

// connectFailures are the outcomes of a connection attempt that never got
// as far as sending the request: what HAProxy counts in %rc.
var connectFailures = []httpmatch.Cause{httpmatch.ConnectRefused, httpmatch.ConnectTimeout, httpmatch.ConnectUnreachable}

// haproxyCauses are the causes that agree with a %ts termination state
// (CAUSES.md). SC is a connect the server (or an ICMP error) refused; the
// brief also accepts connect_timeout there for SYNs never answered.
// HAProxy does not tell FIN from RST: SH is any close before the headers.
func haproxyCauses(h HAProxyLine) []httpmatch.Cause {
	switch h.Termination {
	case "SC":
		if h.Server == "<NOSRV>" {
			return []httpmatch.Cause{httpmatch.NoUpstream}
		}
		return connectFailures
	case "sC":
		return []httpmatch.Cause{httpmatch.ConnectTimeout}
	case "SH", "SD":
		return []httpmatch.Cause{httpmatch.UpstreamClosed, httpmatch.UpstreamReset, httpmatch.KeepaliveRace}
	case "sH":
		return []httpmatch.Cause{httpmatch.UpstreamTimeout}
	case "PH":
		return []httpmatch.Cause{httpmatch.InvalidResponse}
	case "--":
		return []httpmatch.Cause{httpmatch.BackendStatus}
	}
	return nil
}

// checkAnalyzeHAProxy holds the analyzer to haproxy.log the way
// checkAnalyze holds it to nginx's logs: every 5xx line is exactly one
// incident with the same status, request, client, server (%si:%sp) and
// last server connection (%bi:%bp), a cause that agrees with %ts, and as
// many failed connects as %rc says (plus the last for SC/sC); every
// line below 500 with %rc > 0 is a hidden failure; nothing else is an
// incident. HAProxy's silent retries on a reused server connection leave
// no trace in the log: a hidden failure that starts with a failure on a
// reused connection is accepted without a line.
func checkAnalyzeHAProxy(t *testing.T, dir string) {
	lines := readLog(t, filepath.Join(dir, "haproxy.log"), ParseHAProxyLog)
	if len(lines) == 0 {
		t.Fatal("haproxy.log: no request lines")
	}
	incidents, hidden := analyzeSample(t, dir)
	used := make([]bool, len(incidents))
	hiddenUsed := make([]bool, len(hidden))
	var want, found, agree, wantHidden, foundHidden int
	for _, h := range lines {
		end := h.Time.Add(time.Duration(h.Timers.Ta) * time.Millisecond)
		name := fmt.Sprintf("%s %q %d %s (%%Ts+%%Ta %s)", h.Client, h.Request, h.Status, h.Termination, end.Format("15:04:05.000"))
		wantConnects := h.Retries
		if h.Phase() == 'C' && (h.ServerAborted() || h.ServerTimeout()) && h.Server != "<NOSRV>" {
			wantConnects++
		}
		if h.Status < 500 || h.Status > 599 {
			if h.Retries == 0 {
				continue
			}
			// Answered after failed connects: a hidden failure.
			wantHidden++
			i := matchHAProxy(hidden, hiddenUsed, h, end)
			if i < 0 {
				t.Errorf("%s: %%rc %d, no hidden failure", name, h.Retries)
				continue
			}
			hiddenUsed[i] = true
			foundHidden++
			checkConnects(t, name, hidden[i], wantConnects)
			continue
		}
		want++
		i := matchHAProxy(incidents, used, h, end)
		if i < 0 {
			t.Errorf("%s: no incident", name)
			continue
		}
		used[i] = true
		found++
		in := incidents[i]
		if in.Inferred {
			t.Errorf("%s: inferred, though both sides are in the capture (%s)", name, in.Explanation)
		}
		if got, wantUp := in.Upstream, unmapAP(h.ServerAddr); got != wantUp {
			t.Errorf("%s: upstream\n- want: %s (%%si:%%sp)\n-  got: %s", name, wantUp, got)
		}
		if n := len(in.Attempts); n > 0 && h.Local.IsValid() && in.Attempts[n-1].Local != unmapAP(h.Local) {
			t.Errorf("%s: last attempt's connection\n- want: %s (%%bi:%%bp)\n-  got: %s", name, unmapAP(h.Local), in.Attempts[n-1].Local)
		}
		checkConnects(t, name, in, wantConnects)
		causes := haproxyCauses(h)
		if !slices.Contains(causes, in.Cause) {
			t.Errorf("%s: cause\n- want: one of %v (%%ts %s)\n-  got: %s (%s)", name, causes, h.Termination, in.Cause, in.Explanation)
			continue
		}
		if !checkRace(t, name, in) {
			continue
		}
		agree++
	}
	checkAllUsed(t, incidents, used, "haproxy.log")
	checkSilentRetries(t, "HAProxy", hidden, hiddenUsed)
	t.Logf("%s: %d/%d 5xx found, %d/%d causes agree; %d/%d hidden failures found", filepath.Base(dir), found, want, agree, want, foundHidden, wantHidden)
}

// matchHAProxy finds the unused incident for a HAProxy line: same client,
// status and request, sent at or after %Ts + %Ta and closest to it.
func matchHAProxy(ins []httpmatch.Incident, used []bool, h HAProxyLine, end time.Time) int {
	best, bestD := -1, time.Duration(0)
	for i, in := range ins {
		if used[i] || in.Status != h.Status || in.Client != unmapAP(h.Client) || !sameRequest(in, h.Request) {
			continue
		}
		d := in.Time.Sub(end)
		if d < -haproxyRounding || d > haproxyMaxIdle {
			continue
		}
		if best < 0 || d.Abs() < bestD {
			best, bestD = i, d.Abs()
		}
	}
	return best
}

// checkConnects compares an incident's failed connects with HAProxy's count.
func checkConnects(t *testing.T, name string, in httpmatch.Incident, want int) {
	t.Helper()
	got := 0
	for _, at := range in.Attempts {
		if slices.Contains(connectFailures, at.Outcome) {
			got++
		}
	}
	if got != want {
		t.Errorf("%s: failed connects\n- want: %d (%%rc, plus the last for SC/sC)\n-  got: %d (attempts %v: %s)", name, want, got, attemptOutcomes(in), in.Explanation)
	}
}

// checkRace: a keep-alive race is by definition on a reused connection.
func checkRace(t *testing.T, name string, in httpmatch.Incident) bool {
	t.Helper()
	if in.Cause != httpmatch.KeepaliveRace {
		return true
	}
	if n := len(in.Attempts); n == 0 || !in.Attempts[n-1].Reused {
		t.Errorf("%s: keepalive_race on a connection that was not reused (%s)", name, in.Explanation)
		return false
	}
	return true
}

// checkSilentRetries accepts a hidden failure no log line asked for only
// when it began with a failure on a reused connection: HAProxy and Go's
// transport retry those without logging them.
func checkSilentRetries(t *testing.T, proxy string, hidden []httpmatch.Incident, used []bool) {
	t.Helper()
	for i, h := range hidden {
		if used[i] {
			continue
		}
		if first := firstFailed(h.Attempts); first >= 0 && h.Attempts[first].Reused {
			t.Logf("silent %s retry (not in its log): %s %s %s %s %v", proxy, h.Client, h.Method, h.URI, h.Cause, attemptOutcomes(h))
			continue
		}
		t.Errorf("hidden failure the %s log does not show: %s %s %s %s %v (%s)", proxy, h.Client, h.Method, h.URI, h.Cause, attemptOutcomes(h), h.Explanation)
	}
}

func firstFailed(as []httpmatch.Attempt) int {
	for i, a := range as {
		if a.Outcome.Failed() {
			return i
		}
	}
	return -1
}

func attemptOutcomes(in httpmatch.Incident) []httpmatch.Cause {
	var out []httpmatch.Cause
	for _, a := range in.Attempts {
		out = append(out, a.Outcome)
	}
	return out
}

// caddyLocal reads the local address Go names in a read error
// ("read tcp 127.0.0.1:49672->127.0.0.1:18081: read: connection reset by peer").
var caddyLocal = regexp.MustCompile(`^read tcp (\S+)->`)

// checkAnalyzeCaddy holds the analyzer to Caddy's logs: every 5xx in
// access.log is exactly one incident with the same status, request and
// client; its upstream is that of the request's last "upstream roundtrip"
// in caddy.log, and its cause agrees with the http.log.error line's Go
// error text (caddylog.go classifies it), or is backend_status when Caddy
// relayed the backend's own 5xx. Go's transport retries a replayable
// request once when a reused connection fails, inside one roundtrip: the
// error, and the incident's cause, are the last attempt's. Nothing else is
// an incident.
func checkAnalyzeCaddy(t *testing.T, dir string) {
	acc := readLog(t, filepath.Join(dir, "access.log"), ParseCaddyLog)
	logs := readLog(t, filepath.Join(dir, "caddy.log"), ParseCaddyLog)
	var errs, trips []CaddyLine
	for _, l := range logs {
		switch l.Entry {
		case CaddyError:
			errs = append(errs, l)
		case CaddyRoundTrip:
			trips = append(trips, l)
		}
	}
	incidents, hidden := analyzeSample(t, dir)
	used := make([]bool, len(incidents))
	hiddenUsed := make([]bool, len(hidden))
	errUsed := make([]bool, len(errs))
	var want, found, agree int
	for _, al := range acc {
		if al.Entry != CaddyAccess || al.Status < 500 || al.Status > 599 {
			continue
		}
		want++
		request := al.Method + " " + al.URI
		name := fmt.Sprintf("%s %q %d at %s", al.Client, request, al.Status, al.Time.Format("15:04:05.000"))
		i := matchCaddy(incidents, used, al, request)
		if i < 0 {
			t.Errorf("%s: no incident", name)
			continue
		}
		used[i] = true
		found++
		in := incidents[i]
		if in.Inferred {
			t.Errorf("%s: inferred, though both sides are in the capture (%s)", name, in.Explanation)
		}
		// The request's roundtrips end within its duration before the access line.
		var last *CaddyLine
		for k := range trips {
			r := &trips[k]
			if r.Client == al.Client && r.Method == al.Method && r.URI == al.URI &&
				!r.Time.After(al.Time.Add(time.Millisecond)) && !r.Time.Before(al.Time.Add(-al.Duration-time.Millisecond)) {
				last = r
			}
		}
		if last == nil {
			t.Errorf("%s: no upstream roundtrip in caddy.log", name)
			continue
		}
		if in.Upstream != last.UpstreamAddr {
			t.Errorf("%s: upstream\n- want: %s (caddy.log roundtrip)\n-  got: %s", name, last.UpstreamAddr, in.Upstream)
		}
		var causes []httpmatch.Cause
		why := ""
		if e := matchCaddyError(errs, errUsed, al); e >= 0 {
			errUsed[e] = true
			causes, why = causesFor[errs[e].Kind], errs[e].Err
			if m := caddyLocal.FindStringSubmatch(errs[e].Err); m != nil && len(in.Attempts) > 0 {
				if local := in.Attempts[len(in.Attempts)-1].Local.String(); local != m[1] {
					t.Errorf("%s: last attempt's connection\n- want: %s (named by %q)\n-  got: %s", name, m[1], errs[e].Err, local)
				}
			}
		} else {
			causes, why = []httpmatch.Cause{httpmatch.BackendStatus}, fmt.Sprintf("no error line; roundtrip status %d", last.Status)
			if last.Status != al.Status {
				t.Errorf("%s: no http.log.error line and the roundtrip's status is %d", name, last.Status)
			}
		}
		if !slices.Contains(causes, in.Cause) {
			t.Errorf("%s: cause\n- want: one of %v (caddy.log: %s)\n-  got: %s (%s)", name, causes, why, in.Cause, in.Explanation)
			continue
		}
		if !checkRace(t, name, in) {
			continue
		}
		agree++
	}
	checkAllUsed(t, incidents, used, "access.log")
	for i, e := range errs {
		if !errUsed[i] && e.Status >= 500 {
			t.Errorf("caddy.log error with no 5xx in access.log: %s %s %s %d %q", e.Client, e.Method, e.URI, e.Status, e.Err)
		}
	}
	// With lb_try_duration 0 Caddy never retries itself; only Go's silent
	// retry on a reused connection can hide a failure.
	checkSilentRetries(t, "Caddy", hidden, hiddenUsed)
	t.Logf("%s: %d/%d 5xx found, %d/%d causes agree; %d hidden failures (none in the logs)", filepath.Base(dir), found, want, agree, want, len(hidden))
}

// matchCaddy finds the unused incident for an access line: same client,
// status and request, closest to the time Caddy logged it (when the
// request finished).
func matchCaddy(ins []httpmatch.Incident, used []bool, al CaddyLine, request string) int {
	best, bestD := -1, time.Duration(0)
	for i, in := range ins {
		if used[i] || in.Status != al.Status || in.Client != al.Client || !sameRequest(in, request) {
			continue
		}
		d := in.Time.Sub(al.Time).Abs()
		if d > time.Second {
			continue
		}
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// matchCaddyError finds the http.log.error line Caddy wrote with access
// line al: same request and status, logged within a few milliseconds.
func matchCaddyError(errs []CaddyLine, used []bool, al CaddyLine) int {
	for i, e := range errs {
		if !used[i] && e.Client == al.Client && e.Method == al.Method && e.URI == al.URI && e.Status == al.Status &&
			e.Time.Sub(al.Time).Abs() <= 5*time.Millisecond {
			return i
		}
	}
	return -1
}
