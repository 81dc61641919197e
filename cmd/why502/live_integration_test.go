package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"why502/httpmatch"
	"why502/samples"
)

// livePorts picks the proxy, backend and refused ports of the live
// integration test among 38180-38198, apart from those of make-samples.sh
// (18080-18099) and TestRegenerate (28080-28099): the first three in a row
// that nothing listens on, so that two runs of the test at once (two
// checkouts, two sessions) do not talk to each other's nginx.
func livePorts(t *testing.T) (proxy, backend, refused int) {
	t.Helper()
	for base := 38180; base+2 <= 38198; base += 3 {
		free := true
		for p := base; p < base+3 && free; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return base, base + 1, base + 2
		}
	}
	t.Skip("ports 38180-38198 are all in use (other runs of this test?)")
	return 0, 0, 0
}

// TestLiveIntegration runs nginx in front of samples/backend on loopback,
// runs "why502 live -i lo -w FILE" in-process while requests hit /ok,
// /502, /slow, /reset, /badheader, /hang and a port nothing listens on,
// and stops it with --duration. Then every 5xx in nginx's access.log must
// be one incident with a cause that agrees with error.log, each incident
// must have been printed within liveHold + 1 s of the 5xx, and analyze on
// the -w file must print the same incidents.
func TestLiveIntegration(t *testing.T) {
	const need = "needs root (AF_PACKET capture), nginx and the Go toolchain (to build samples/backend): run .ci/run, which installs them"
	if os.Geteuid() != 0 {
		t.Skip(need + " (not root)")
	}
	for _, c := range []string{"nginx", "go"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s (%s not found)", need, c)
		}
	}
	if testing.Short() {
		t.Skip("the live integration test takes about 15 s; skipped with -short")
	}
	livePortProxy, livePortBackend, livePortRefused := livePorts(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	backend := filepath.Join(dir, "backend")
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", backend, "../../samples/backend").CombinedOutput(); err != nil {
		t.Fatalf("build samples/backend: %v\n%s", err, b)
	}
	be := exec.CommandContext(ctx, backend, "-listen", fmt.Sprintf("127.0.0.1:%d", livePortBackend),
		"-write-timeout", "200ms", "-hang", "1500ms")
	be.Stderr = io.Discard
	startProcess(t, be, "backend", livePortBackend)

	logs := filepath.Join(dir, "out")
	writeNginxConf(t, dir, logs, livePortProxy, livePortBackend, livePortRefused)
	ng := exec.CommandContext(ctx, "nginx", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(logs, "error.log"))
	ng.Cancel = func() error { return ng.Process.Signal(syscall.SIGQUIT) }
	var ngErr bytes.Buffer
	ng.Stderr = &ngErr
	startProcess(t, ng, "nginx", livePortProxy)

	pcap := filepath.Join(dir, "live.pcapng")
	filter := fmt.Sprintf("tcp port %d or tcp port %d or tcp port %d", livePortProxy, livePortBackend, livePortRefused)
	var out lineTimes
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"live", "-i", "lo", "-f", filter, "-w", pcap, "--format", "jsonl", "--duration", "9s"},
			nil, &out, &errb)
	}()
	waitFor(t, 10*time.Second, "live to start capturing", func() bool { return strings.Contains(errb.String(), "capturing on") })

	sent := drive(t, fmt.Sprintf("http://127.0.0.1:%d", livePortProxy))
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("live did not stop 30 s after the drive; stderr:\n%s", errb.String())
	}
	ng.Process.Signal(syscall.SIGQUIT)
	ng.Wait()
	if code != exitOK {
		t.Fatalf("live: exit %d\n%s", code, errb.String())
	}
	t.Logf("live stderr:\n%s", errb.String())
	if !strings.Contains(errb.String(), "0 dropped by the kernel") {
		t.Errorf("the kernel dropped packets or no counters were printed:\n%s", errb.String())
	}

	// Every 5xx in access.log is one incident, with a cause error.log agrees with.
	incidents := out.incidents(t)
	errs := readLogFile(t, filepath.Join(logs, "error.log"), samples.ParseErrorLog)
	acc := readLogFile(t, filepath.Join(logs, "access.log"), samples.ParseAccessLog)
	used := make([]bool, len(incidents))
	n5xx := 0
	var slowest time.Duration
	for _, al := range acc {
		if al.Status < 500 {
			continue
		}
		n5xx++
		name := fmt.Sprintf("%s %q %d", al.Client, al.Request, al.Status)
		i := matchLogged(incidents, used, al)
		if i < 0 {
			t.Errorf("%s: no incident", name)
			continue
		}
		used[i] = true
		in := incidents[i]
		if ok, want := liveCauseAgrees(errs, al, httpmatch.Cause(in.Cause)); !ok {
			t.Errorf("%s: cause\n- want: one of %v\n-  got: %s (%s)", name, want, in.Cause, in.Explanation)
		}
		// Streaming: printed within liveHold (+ tick, reorder window and
		// scheduling) of the 5xx reaching the client.
		if at, ok := sent[in.Method+" "+in.URI]; ok {
			d := in.printed.Sub(at)
			slowest = max(slowest, d)
			if d > liveHold+time.Second {
				t.Errorf("%s: printed %v after the client got the 5xx; want at most %v", name, d.Round(time.Millisecond), liveHold+time.Second)
			}
		}
	}
	for i, in := range incidents {
		if !used[i] && !in.Hidden {
			t.Errorf("incident not in access.log as a 5xx: %s %d %s %s (%s)", in.Client, in.Status, in.Method, in.URI, in.Cause)
		}
	}
	if n5xx < 6 {
		t.Errorf("access.log has %d 5xx; the drive should have made at least 6:\n%s", n5xx, readFile(t, filepath.Join(logs, "access.log")))
	}

	// analyze on the -w file: the same incidents, line for line.
	c, aout, aerr := runCLI(t, nil, "analyze", "--format", "jsonl", pcap)
	if c != exitOK {
		t.Fatalf("analyze %s: exit %d\n%s", pcap, c, aerr)
	}
	if got := out.text(); sortedLines(got) != sortedLines(aout) {
		t.Errorf("analyze on the -w file disagrees with live\n- want (live):\n%s\n-  got (analyze):\n%s", got, aout)
	} else if got != aout {
		t.Logf("analyze on the -w file: the same incidents, in another order")
	}
	t.Logf("%d 5xx in access.log, %d incidents printed live, at most %v after the client got the 5xx",
		n5xx, len(incidents), slowest.Round(time.Millisecond))
}

// startProcess starts cmd and waits until it listens on port.
func startProcess(t *testing.T, cmd *exec.Cmd, name string, port int) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	waitFor(t, 10*time.Second, fmt.Sprintf("%s to listen on port %d", name, port), func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// writeNginxConf fills samples/nginx.conf.in as make-samples.sh does.
func writeNginxConf(t *testing.T, dir, logs string, livePortProxy, livePortBackend, livePortRefused int) {
	t.Helper()
	tmpl, err := os.ReadFile("../../samples/nginx.conf.in")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{logs, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// nginx's workers (not root) write the access log through the master's
	// descriptor, but must be able to reach the temp paths.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	refused := fmt.Sprintf("127.0.0.1:%d", livePortRefused)
	conf := strings.NewReplacer(
		"@TMP@", filepath.Join(dir, "tmp"), "@OUT@", logs,
		"@LISTEN@", fmt.Sprintf("127.0.0.1:%d", livePortProxy),
		"@UPSTREAM@", fmt.Sprintf("127.0.0.1:%d", livePortBackend),
		"@REFUSED@", refused, "@DEAD@", refused,
	).Replace(string(tmpl))
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// drive sends a fixed, bounded sequence of requests and returns when each
// 5xx reached the client, by method and path.
func drive(t *testing.T, base string) map[string]time.Time {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	steps := []struct {
		method, path string
		close        bool
		pause        time.Duration // after the answer
	}{
		{"GET", "/ok", false, 0},
		{"GET", "/ok?size=8000", false, 0},
		{"GET", "/502", false, 1500 * time.Millisecond},
		{"GET", "/slow", true, 0},
		{"POST", "/slow", false, 1500 * time.Millisecond},
		{"GET", "/reset", false, 0},
		{"GET", "/refused/x", false, 1500 * time.Millisecond},
		{"GET", "/badheader", false, 0},
		{"GET", "/hang", false, 0},
		{"GET", "/ok", false, 0},
	}
	sent := map[string]time.Time{}
	for _, s := range steps {
		var body io.Reader
		if s.method == "POST" {
			body = strings.NewReader(strings.Repeat("x", 500))
		}
		req, err := http.NewRequest(s.method, base+s.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Close = s.close
		resp, err := client.Do(req)
		if err != nil {
			t.Logf("%s %s: %v", s.method, s.path, err)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			sent[s.method+" "+s.path] = time.Now()
		}
		time.Sleep(s.pause)
	}
	return sent
}

// liveIncident is the part of a JSON line the test looks at.
type liveIncident struct {
	Status      int    `json:"status"`
	Client      string `json:"client"`
	Method      string `json:"method"`
	URI         string `json:"uri"`
	Cause       string `json:"cause"`
	Explanation string `json:"explanation"`
	Time        string `json:"time"`
	Hidden      bool   `json:"hidden_failure"`
	printed     time.Time
}

// lineTimes is an io.Writer that remembers when each line was written.
type lineTimes struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	times []time.Time
}

func (w *lineTimes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for range bytes.Count(p, []byte{'\n'}) {
		w.times = append(w.times, now)
	}
	return w.buf.Write(p)
}

func (w *lineTimes) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *lineTimes) incidents(t *testing.T) []liveIncident {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []liveIncident
	for i, line := range strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var in liveIncident
		if err := json.Unmarshal([]byte(line), &in); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		in.printed = w.times[i]
		out = append(out, in)
	}
	return out
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readLogFile[T any](t *testing.T, name string, parse func(io.Reader) ([]T, error)) []T {
	t.Helper()
	v, err := parse(strings.NewReader(readFile(t, name)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// matchLogged finds the unused incident of an access.log line: same
// client, status and request, within a second of when nginx logged it.
func matchLogged(ins []liveIncident, used []bool, al samples.AccessLine) int {
	for i, in := range ins {
		f := strings.Fields(al.Request)
		if used[i] || in.Hidden || in.Status != al.Status || len(f) < 2 || f[0] != in.Method || f[1] != in.URI {
			continue
		}
		if ap, err := netip.ParseAddrPort(in.Client); err != nil || ap != al.Client {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, in.Time)
		if err != nil || at.Sub(al.Time).Abs() > time.Second {
			continue
		}
		return i
	}
	return -1
}

// liveCausesFor are the causes that agree with an error.log kind, as in
// the samples' TestAnalyze.
var liveCausesFor = map[samples.ErrorKind][]httpmatch.Cause{
	samples.KindRefused:           {httpmatch.ConnectRefused},
	samples.KindConnectTimeout:    {httpmatch.ConnectTimeout},
	samples.KindPrematurelyClosed: {httpmatch.UpstreamClosed, httpmatch.KeepaliveRace},
	samples.KindReset:             {httpmatch.UpstreamReset, httpmatch.KeepaliveRace},
	samples.KindReadTimeout:       {httpmatch.UpstreamTimeout},
	samples.KindNoValidHeader:     {httpmatch.InvalidResponse},
	samples.KindInvalidHeader:     {httpmatch.InvalidResponse},
	samples.KindNoLiveUpstreams:   {httpmatch.NoUpstream},
}

// liveCauseAgrees: the last upstream error nginx logged for the request
// decides; none, with a 5xx from the upstream, means the backend answered it.
func liveCauseAgrees(errs []samples.ErrorLine, al samples.AccessLine, got httpmatch.Cause) (bool, []httpmatch.Cause) {
	from := al.Time.Add(-al.RequestTime).Truncate(time.Second)
	var last *samples.ErrorLine
	for i := range errs {
		e := &errs[i]
		if e.Kind == samples.KindOther || e.Conn != al.Conn || e.Request != al.Request || e.Time.Before(from) || e.Time.After(al.Time) {
			continue
		}
		last = e
	}
	var want []httpmatch.Cause
	switch {
	case last != nil:
		want = liveCausesFor[last.Kind]
	case len(al.Tries) > 0 && al.Tries[len(al.Tries)-1].Status >= 500:
		want = []httpmatch.Cause{httpmatch.BackendStatus}
	default:
		want = []httpmatch.Cause{httpmatch.NoUpstream, httpmatch.Unknown}
	}
	for _, c := range want {
		if c == got {
			return true, want
		}
	}
	return false, want
}
