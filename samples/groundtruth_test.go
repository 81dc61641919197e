package samples

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
)

// TestGroundTruth checks every shipped sample: what nginx logged about its
// upstreams must be visible, with the same counts, in the connections that
// capture and flows reconstruct. The expected numbers come from the logs.
func TestGroundTruth(t *testing.T) {
	dirs := sampleDirs(t, ".")
	if len(dirs) == 0 {
		t.Fatal("no sample directories (folders with a meta file) next to this test; regenerate with make-samples.sh")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			meta, err := readMeta(filepath.Join(dir, "meta"))
			if err != nil {
				t.Fatal(err)
			}
			// Samples made before proxy_software= existed are all nginx.
			switch sw := meta["proxy_software"]; sw {
			case "", "nginx":
				checkSample(t, dir)
			case "haproxy":
				checkHAProxySample(t, dir, meta)
			case "caddy":
				checkCaddySample(t, dir, meta)
			default:
				t.Fatalf("meta: proxy_software=%s: no ground-truth check for it", sw)
			}
		})
	}
}

// TestRegenerate runs make-samples.sh for the loopback sample into a
// temporary directory and applies the same ground-truth check to it.
func TestRegenerate(t *testing.T) {
	const need = "needs root, nginx and tcpdump: run .ci/run, which installs them"
	if os.Geteuid() != 0 {
		t.Skip(need + " (not root)")
	}
	for _, c := range []string{"nginx", "tcpdump", "ip", "ss", "go", "bash"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s (%s not found)", need, c)
		}
	}
	if testing.Short() {
		t.Skip("regenerating a sample takes about 20 s; skipped with -short")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "make-samples.sh", "-o", out, "loopback")
	// Ports apart from the defaults, so a concurrent manual run does not collide.
	cmd.Env = append(os.Environ(), "PORT_BASE=28080")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-samples.sh loopback: %v\n%s", err, b)
	}
	checkSample(t, filepath.Join(out, "loopback"))
}

// sampleDirs lists the subdirectories of root that hold a sample (a meta file).
func sampleDirs(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, e.Name(), "meta")); err == nil {
				dirs = append(dirs, filepath.Join(root, e.Name()))
			}
		}
	}
	return dirs
}

// upstreamKey counts log lines and connections per upstream address.
type upstreamKey struct {
	kind ErrorKind
	addr netip.AddrPort
}

// observed is what the capture shows on the connections to upstreams.
type observed struct {
	refused        map[netip.AddrPort][]flows.Conn // SYN answered by RST
	unanswered     map[netip.AddrPort][]flows.Conn // SYNs only
	serverFIN      map[netip.AddrPort][]flows.Conn // server FIN first, request outstanding
	serverRST      map[netip.AddrPort][]flows.Conn // server RST first, request outstanding
	keepaliveRace  map[netip.AddrPort][]flows.Conn // server FIN first, request sent after it
	clientAbandons map[netip.AddrPort][]flows.Conn // client (nginx) closed first, request unanswered
}

func checkSample(t *testing.T, dir string) {
	meta, err := readMeta(filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	readTimeout, err := time.ParseDuration(meta["proxy_read_timeout"])
	if err != nil {
		t.Fatalf("meta proxy_read_timeout: %v", err)
	}
	errs := readLog(t, filepath.Join(dir, "error.log"), ParseErrorLog)
	acc := readLog(t, filepath.Join(dir, "access.log"), ParseAccessLog)

	// Upstream addresses: every address nginx logged trying.
	ups := map[netip.AddrPort]bool{}
	want := map[upstreamKey]int{}
	for _, e := range errs {
		if e.UpstreamAddr.IsValid() {
			ups[e.UpstreamAddr] = true
			want[upstreamKey{e.Kind, e.UpstreamAddr}]++
		}
	}
	for _, a := range acc {
		for _, try := range a.Tries {
			if ap, err := netip.ParseAddrPort(try.Addr); err == nil {
				ups[ap] = true
			}
		}
	}
	if len(ups) == 0 {
		t.Fatal("no upstream address in error.log or access.log")
	}

	var names []string
	for _, f := range strings.Fields(meta["files"]) {
		names = append(names, filepath.Join(dir, f))
	}
	conns := track(t, names)
	obs := classifyConns(conns, ups)

	for ap := range ups {
		check := func(what string, k ErrorKind, got []flows.Conn, wire string) {
			t.Helper()
			if w := want[upstreamKey{k, ap}]; w != len(got) {
				t.Errorf("%s %s: error.log and capture disagree\n- want: %d %q lines (error.log)\n-  got: %d connections where %s%s",
					ap, what, w, k, len(got), wire, describe(got))
			}
		}
		check("refused", KindRefused, obs.refused[ap], "the SYN was answered by RST (REJ)")
		check("connect timeout", KindConnectTimeout, obs.unanswered[ap], "SYNs were never answered (S0)")
		check("read timeout", KindReadTimeout, obs.clientAbandons[ap], "nginx closed first with its request unanswered")

		// A FIN before the request becomes "prematurely closed", a RST
		// "reset by peer". A request sent after the backend's FIN (a reused
		// keep-alive connection the backend had closed) is answered with a
		// RST by its stack, which nginx reports as either, depending on
		// whether it read the FIN or the RST first.
		fin, rst, race := len(obs.serverFIN[ap]), len(obs.serverRST[ap]), len(obs.keepaliveRace[ap])
		pc, rs := want[upstreamKey{KindPrematurelyClosed, ap}], want[upstreamKey{KindReset, ap}]
		if d1, d2 := pc-fin, rs-rst; d1 < 0 || d2 < 0 || d1+d2 != race {
			t.Errorf("%s server closes: error.log and capture disagree\n- want: %d %q + %d %q lines (error.log)\n"+
				"-  got: %d FIN-first and %d RST-first connections with a request outstanding, %d keep-alive races (request after the FIN)%s%s%s",
				ap, pc, KindPrematurelyClosed, rs, KindReset, fin, rst, race,
				describe(obs.serverFIN[ap]), describe(obs.serverRST[ap]), describe(obs.keepaliveRace[ap]))
		}
		for _, c := range obs.clientAbandons[ap] {
			// nginx's read timer cannot fire early; allow for its millisecond clock.
			if c.Teardown.SinceOwnData < readTimeout-20*time.Millisecond {
				t.Errorf("%s: nginx closed %v after its request, sooner than proxy_read_timeout %v%s",
					ap, c.Teardown.SinceOwnData, readTimeout, describe([]flows.Conn{c}))
			}
		}
	}
	t.Logf("%s: %d connections; error.log: %s; capture: %s", filepath.Base(dir), len(conns), summarize(want), obs)
}

// classifyConns sorts the connections to upstream addresses by how they failed.
func classifyConns(conns []flows.Conn, ups map[netip.AddrPort]bool) observed {
	obs := observed{
		refused: map[netip.AddrPort][]flows.Conn{}, unanswered: map[netip.AddrPort][]flows.Conn{},
		serverFIN: map[netip.AddrPort][]flows.Conn{}, serverRST: map[netip.AddrPort][]flows.Conn{},
		keepaliveRace: map[netip.AddrPort][]flows.Conn{}, clientAbandons: map[netip.AddrPort][]flows.Conn{},
	}
	for _, c := range conns {
		ap := c.Server
		if !ups[ap] {
			continue
		}
		td := c.Teardown
		c2s, s2c := c.LastData[flows.ClientToServer], c.LastData[flows.ServerToClient]
		switch {
		case c.Handshake == flows.Refused && c.State() == "REJ":
			obs.refused[ap] = append(obs.refused[ap], c)
		case c.Handshake == flows.Unanswered:
			obs.unanswered[ap] = append(obs.unanswered[ap], c)
		case td.By == flows.Server && td.PeerUnanswered && td.Kind == flows.CloseRST:
			obs.serverRST[ap] = append(obs.serverRST[ap], c)
		case td.By == flows.Server && td.Kind == flows.CloseFIN && c2s.After(td.At.Time):
			// Also when nothing was outstanding at the FIN: an idle
			// keep-alive connection the backend closed (a kill closes them
			// all) and nginx reused in the same instant (crash sample).
			obs.keepaliveRace[ap] = append(obs.keepaliveRace[ap], c)
		case td.By == flows.Server && td.PeerUnanswered && td.Kind == flows.CloseFIN:
			obs.serverFIN[ap] = append(obs.serverFIN[ap], c)
		case td.By == flows.Client && c.Bytes[flows.ClientToServer] > 0 &&
			(c.Bytes[flows.ServerToClient] == 0 || c2s.After(s2c)):
			obs.clientAbandons[ap] = append(obs.clientAbandons[ap], c)
		}
	}
	return obs
}

func (o observed) String() string {
	n := func(m map[netip.AddrPort][]flows.Conn) (k int) {
		for _, cs := range m {
			k += len(cs)
		}
		return k
	}
	return fmt.Sprintf("REJ=%d S0=%d server-FIN-first=%d server-RST-first=%d keepalive-race=%d nginx-abandoned=%d",
		n(o.refused), n(o.unanswered), n(o.serverFIN), n(o.serverRST), n(o.keepaliveRace), n(o.clientAbandons))
}

// collector keeps a copy of every finished connection.
type collector struct{ conns []flows.Conn }

func (c *collector) Data(*flows.Conn, flows.Chunk) {}
func (c *collector) Gap(*flows.Conn, flows.Gap)    {}
func (c *collector) Done(x *flows.Conn)            { c.conns = append(c.conns, *x) }

func track(t *testing.T, names []string) []flows.Conn {
	t.Helper()
	r, err := capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var col collector
	tr := flows.New(flows.Options{}, &col)
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", strings.Join(names, " "), err)
		}
		tr.Add(p)
	}
	tr.Flush()
	for _, w := range r.Warnings() {
		t.Logf("capture warning: %v", w)
	}
	if len(col.conns) == 0 {
		t.Fatalf("%s: no TCP connections", strings.Join(names, " "))
	}
	return col.conns
}

func readLog[T any](t *testing.T, name string, parse func(io.Reader) ([]T, error)) []T {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// readMeta reads the key=value lines make-samples.sh writes.
func readMeta(name string) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, k := range []string{"files", "proxy_read_timeout"} {
		if m[k] == "" {
			return nil, fmt.Errorf("%s: no %s=", name, k)
		}
	}
	return m, nil
}

func describe(cs []flows.Conn) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n\tconn %d %v -> %v, first frame %s#%d, %s: %s", c.ID, c.Client, c.Server,
			filepath.Base(c.First.File), c.First.Frame, c.State(), c.Summary())
	}
	return b.String()
}

func summarize(want map[upstreamKey]int) string {
	byKind := map[string]int{}
	for k, n := range want {
		byKind[k.kind.String()] += n
	}
	var parts []string
	for k, n := range byKind {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
