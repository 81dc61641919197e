package findings_test

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/findings"
	"why502/httpmatch"
	"why502/samples"
)

// run runs the analyze pipeline with a Collector over sample files.
func run(t *testing.T, files ...string) []findings.Finding {
	t.Helper()
	fs, _ := runSplit(t, false, files...)
	return fs
}

// runSplit is run, on two goroutines or one, also returning the incidents.
func runSplit(t *testing.T, split bool, files ...string) ([]findings.Finding, []httpmatch.Incident) {
	t.Helper()
	var names []string
	for _, f := range files {
		names = append(names, filepath.Join("..", "samples", f))
	}
	r, err := capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var incs []httpmatch.Incident
	pl := findings.NewPipeline(findings.PipelineOptions{Split: split}, func(in httpmatch.Incident) { incs = append(incs, in) })
	defer pl.Close()
	if err := r.Each(func(p *capture.Packet) {
		pl.Add(p)
	}); err != nil {
		t.Fatal(err)
	}
	pl.Flush()
	return pl.Findings(names, r.Stats()), incs
}

// TestSplitSameAsTap: the analysis on two goroutines (HTTP parsing in the
// reading one, the rest in another, fed by events) gives the very
// incidents, findings and counts of the analysis on one, on every sample.
func TestSplitSameAsTap(t *testing.T) {
	for _, files := range [][]string{
		{"loopback/capture.pcap"}, {"any-snaplen200/capture.pcap"}, {"ipv6/capture.pcap"},
		{"pcapng-gz/capture.pcapng.gz"}, {"split/client.pcap", "split/upstream.pcap"},
		{"nginx-retry/capture.pcap"}, {"keepalive-race/client.pcap", "keepalive-race/upstream.pcap"},
		{"haproxy/capture.pcap"}, {"caddy/capture.pcap"}, {"tls-front/client.pcap", "tls-front/upstream.pcap"},
		{"crash/capture.pcap"}, {"response-timeout/capture.pcap"},
	} {
		t.Run(files[0], func(t *testing.T) {
			wantF, wantI := runSplit(t, false, files...)
			gotF, gotI := runSplit(t, true, files...)
			if len(wantI) == 0 {
				t.Fatal("no incidents: the sample is not exercising the analysis")
			}
			if !reflect.DeepEqual(gotI, wantI) {
				t.Errorf("incidents differ: split %d, one goroutine %d", len(gotI), len(wantI))
				for i := range min(len(gotI), len(wantI)) {
					if !reflect.DeepEqual(gotI[i], wantI[i]) {
						t.Errorf("first difference, incident %d:\nsplit %+v\none   %+v", i, gotI[i], wantI[i])
						break
					}
				}
			}
			if !reflect.DeepEqual(gotF, wantF) {
				t.Errorf("findings differ:\nsplit %+v\none   %+v", gotF, wantF)
			}
		})
	}
}

func meta(t *testing.T, sample string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "samples", sample, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

func metaDuration(t *testing.T, m map[string]string, key string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(strings.Fields(m[key])[0])
	if err != nil {
		t.Fatalf("meta %s: %v", key, err)
	}
	return d
}

func accessLog(t *testing.T, sample string) []samples.AccessLine {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "samples", sample, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := samples.ParseAccessLog(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func errorLog(t *testing.T, sample string) []samples.ErrorLine {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "samples", sample, "error.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := samples.ParseErrorLog(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func only(t *testing.T, fs []findings.Finding, k findings.Kind, up string) findings.Finding {
	t.Helper()
	var got []findings.Finding
	for _, f := range fs {
		if f.Kind == k && (up == "" || f.Upstream.String() == up) {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %s finding for %s, got %d: %+v", k, up, len(got), got)
	}
	return got[0]
}

func near(d, want time.Duration, frac float64) bool {
	diff := d - want
	return diff.Abs() <= time.Duration(frac*float64(want))
}

// The loopback sample's /exit: the backend exits mid-request and is
// restarted 1.5 s later; nginx's refused connects (access.log: "-" connect
// time) bound the down window.
func TestBackendDownLoopback(t *testing.T) {
	fs := run(t, "loopback/capture.pcap")
	m := meta(t, "loopback")
	up := m["upstream"]
	f := only(t, fs, findings.BackendDown, up)

	var refused []time.Time
	var after time.Time
	for _, l := range accessLog(t, "loopback") {
		last := l.Tries[len(l.Tries)-1]
		if last.Addr != up {
			continue
		}
		if !last.Connected {
			refused = append(refused, l.Time)
		} else if len(refused) > 0 && after.IsZero() {
			after = l.Time
		}
	}
	nErr := 0
	for _, e := range errorLog(t, "loopback") {
		if e.Kind == samples.KindRefused && e.UpstreamAddr.String() == up {
			nErr++
		}
	}
	if f.Count != nErr || f.Requests != len(refused) {
		t.Errorf("count %d, requests %d; error.log has %d refused connects to %s, access.log %d requests", f.Count, f.Requests, nErr, up, len(refused))
	}
	// access.log times are when the request finished, to the millisecond.
	const tol = 50 * time.Millisecond
	if d := f.Start.Sub(refused[0]); d > time.Millisecond || d < -tol {
		t.Errorf("down from %s; first refused request logged at %s", f.Start, refused[0])
	}
	if f.End.Before(refused[len(refused)-1]) || f.End.Sub(after).Abs() > tol {
		t.Errorf("down to %s; last refused at %s, first served again at %s", f.End, refused[len(refused)-1], after)
	}
	restart := metaDuration(t, m, "backend_restart_delay")
	// The driver polls every 250 ms: the window ends at the first poll after the restart.
	if f.Down < restart || f.Down > restart+250*time.Millisecond+tol {
		t.Errorf("down %s; the backend was restarted %s after it exited", f.Down, restart)
	}
	if !f.Crash {
		t.Errorf("not seen as a crash: %s", f.Conclusion)
	}
}

// /slow runs past the backend's WriteTimeout; Go's server closes when the
// handler returns, meta's backend_slow after the timeout.
func TestWriteTimeout(t *testing.T) {
	for _, tc := range []struct {
		sample string
		files  []string
	}{
		{"loopback", []string{"loopback/capture.pcap"}},
		{"split", []string{"split/client.pcap", "split/upstream.pcap"}},
		{"nginx-retry", []string{"nginx-retry/capture.pcap"}},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			m := meta(t, tc.sample)
			wt := metaDuration(t, m, "backend_write_timeout")
			if !strings.Contains(m["backend_slow"], "write timeout + 100ms") {
				t.Skipf("meta backend_slow %q: not the handler this test knows", m["backend_slow"])
			}
			f := only(t, run(t, tc.files...), findings.WriteTimeout, m["upstream"])
			if !near(f.WriteTimeout, wt+100*time.Millisecond, 0.05) || f.WriteTimeout < wt {
				t.Errorf("write_timeout %s; backend WriteTimeout %s, handler %s", f.WriteTimeout, wt, wt+100*time.Millisecond)
			}
			n := 0
			for _, e := range errorLog(t, tc.sample) {
				if e.Kind == samples.KindPrematurelyClosed && strings.HasSuffix(e.Upstream, "/slow") {
					n++
				}
			}
			if f.Count != n {
				t.Errorf("count %d; error.log has %d premature closes on /slow", f.Count, n)
			}
		})
	}
}

// keepalive-race: the backend's -idle-timeout is in meta; nginx's error
// log has one line per race on a reused connection.
func TestKeepaliveRace(t *testing.T) {
	m := meta(t, "keepalive-race")
	f := only(t, run(t, "keepalive-race/client.pcap", "keepalive-race/upstream.pcap"), findings.KeepaliveRace, m["upstream"])
	idle := metaDuration(t, m, "backend_idle_timeout")
	if !near(f.IdleTimeout, idle, 0.10) {
		t.Errorf("idle_timeout %s; backend -idle-timeout %s", f.IdleTimeout, idle)
	}
	lines := 0
	for _, e := range errorLog(t, "keepalive-race") {
		if e.Kind == samples.KindPrematurelyClosed || e.Kind == samples.KindReset {
			lines++
		}
	}
	posts := 0
	for _, l := range accessLog(t, "keepalive-race") {
		if l.Status == 502 && strings.HasPrefix(l.Request, "POST ") {
			posts++
		}
	}
	if f.Count != lines || f.Methods["POST"] != posts || f.Requests != posts || f.Retried != lines-posts {
		t.Errorf("races %d (%v, %d 5xx, %d retried); error.log %d lines, access.log %d POSTs answered 502", f.Count, f.Methods, f.Requests, f.Retried, lines, posts)
	}
}

// nginx-retry: a dead server in the upstream group, and hidden retries as
// nginx's $upstream_addr lists them.
func TestStaleAndRetries(t *testing.T) {
	fs := run(t, "nginx-retry/capture.pcap")
	refused := 0
	for _, e := range errorLog(t, "nginx-retry") {
		if e.Kind == samples.KindRefused && e.UpstreamAddr.String() == "127.0.0.2:18081" {
			refused++
		}
	}
	f := only(t, fs, findings.StaleUpstream, "127.0.0.2:18081")
	if f.Count != refused {
		t.Errorf("stale upstream: %d connects; error.log has %d refused", f.Count, refused)
	}
	only(t, fs, findings.StaleUpstream, "127.0.0.1:18099")
	only(t, fs, findings.StaleUpstream, "127.0.0.2:18099")
	for _, f := range fs {
		if f.Kind == findings.BackendDown {
			t.Errorf("unexpected %s", f.Conclusion)
		}
	}
	// Each request whose $upstream_addr lists several addresses was tried
	// again after a failure; per upstream, count the requests whose earlier
	// attempts failed there.
	want := map[string]int{}
	for _, l := range accessLog(t, "nginx-retry") {
		var addrs []string
		for _, tr := range l.Tries {
			if _, err := netip.ParseAddrPort(tr.Addr); err == nil {
				addrs = append(addrs, tr.Addr)
			}
		}
		seen := map[string]bool{}
		for _, a := range addrs[:max(len(addrs)-1, 0)] {
			if !seen[a] {
				seen[a] = true
				want[a]++
			}
		}
	}
	got := map[string]int{}
	for _, f := range fs {
		if f.Kind == findings.HiddenRetries {
			got[f.Upstream.String()] = f.Count
		}
	}
	if len(got) != len(want) {
		t.Errorf("hidden retries by upstream %v; access.log %v", got, want)
	}
	for a, n := range want {
		if got[a] != n {
			t.Errorf("hidden retries on %s: %d; access.log %d", a, got[a], n)
		}
	}
}

// The client side of split alone: every cause is inferred; the coverage
// finding says so and names the capture that would decide.
func TestCoverageClientOnly(t *testing.T) {
	f := only(t, run(t, "split/client.pcap"), findings.CaptureCoverage, "")
	if !strings.Contains(f.Conclusion, "inferred") || !strings.Contains(f.Advice, "tcpdump -i any") {
		t.Errorf("coverage: %s / %s", f.Conclusion, f.Advice)
	}
	for _, f := range run(t, "loopback/capture.pcap") {
		if f.Kind == findings.CaptureCoverage {
			t.Errorf("loopback is complete, got %s", f.Conclusion)
		}
	}
}

// metaTime reads a meta value of Unix seconds with up to nanosecond
// digits (date +%s.%N), the first word of the value.
func metaTime(t *testing.T, m map[string]string, key string) time.Time {
	t.Helper()
	v := strings.Fields(m[key] + " ")[0]
	sec, frac, _ := strings.Cut(v, ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil || len(frac) > 9 {
		t.Fatalf("meta %s=%q: not Unix seconds", key, m[key])
	}
	return time.Unix(s, ns)
}

// crash: the backend got SIGKILL under load and was started again; meta
// has both times, taken by the script next to the kill and right after the
// new process listened.
func TestBackendDownCrash(t *testing.T) {
	m := meta(t, "crash")
	up := m["upstream"]
	killed := metaTime(t, m, "backend_killed_at")
	restarted := metaTime(t, m, "backend_restarted_at")
	fs := run(t, "crash/capture.pcap")
	f := only(t, fs, findings.BackendDown, up)

	const tol = 50 * time.Millisecond
	if d := f.Start.Sub(killed); d.Abs() > tol {
		t.Errorf("down from %s; killed at %s (%+v)", f.Start.UTC().Format(time.StampMicro), killed.UTC().Format(time.StampMicro), d)
	}
	if d := f.End.Sub(restarted); d.Abs() > tol {
		t.Errorf("down to %s; restarted at %s (%+v)", f.End.UTC().Format(time.StampMicro), restarted.UTC().Format(time.StampMicro), d)
	}
	if !f.Crash {
		t.Errorf("not seen as a crash: %s", f.Conclusion)
	}
	t.Logf("down %s to %s (%v, %d connects refused, %d requests); killed %s, restarted %s (%v): start %+v, end %+v",
		f.Start.UTC().Format("15:04:05.000000"), f.End.UTC().Format("15:04:05.000000"), f.Down, f.Count, f.Requests,
		killed.UTC().Format("15:04:05.000000"), restarted.UTC().Format("15:04:05.000000"), restarted.Sub(killed),
		f.Start.Sub(killed), f.End.Sub(restarted))

	nErr := 0
	for _, e := range errorLog(t, "crash") {
		if e.Kind == samples.KindRefused && e.UpstreamAddr.String() == up {
			nErr++
		}
	}
	refused := 0
	for _, l := range accessLog(t, "crash") {
		if last := l.Tries[len(l.Tries)-1]; last.Addr == up && !last.Connected {
			refused++
		}
	}
	// The load is POSTs, which nginx does not retry once sent: each
	// request has one attempt, so access.log counts the requests exactly.
	if f.Count != nErr || f.Requests != refused {
		t.Errorf("count %d, requests %d; error.log has %d refused connects to %s, access.log %d requests", f.Count, f.Requests, nErr, up, refused)
	}
}

// response-timeout: the backend closes each connection -kill-after after
// the request arrived (a gunicorn/uWSGI-style worker timeout), before any
// answer, whatever the handler's own duration.
func TestResponseTimeout(t *testing.T) {
	m := meta(t, "response-timeout")
	d := metaDuration(t, m, "backend_kill_after")
	f := only(t, run(t, "response-timeout/capture.pcap"), findings.WriteTimeout, m["upstream"])
	if !near(f.WriteTimeout, d, 0.05) {
		t.Errorf("write_timeout %s; backend -kill-after %s", f.WriteTimeout, d)
	}
	t.Logf("write_timeout %s (jitter %s) over %d closes; backend -kill-after %s", f.WriteTimeout, f.Jitter, f.Count, d)
	n := 0
	for _, e := range errorLog(t, "response-timeout") {
		if e.Kind == samples.KindPrematurelyClosed {
			n++
		}
	}
	if f.Count != n {
		t.Errorf("count %d; error.log has %d premature closes", f.Count, n)
	}
}
