package samples

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
)

// TestAnalyze runs the analyzer on every sample and holds it to nginx's own
// logs: every 5xx in access.log is exactly one incident, with the same
// status, request, client and upstream (the last of $upstream_addr), and a
// cause that agrees with error.log's words for that request; nothing else
// is an incident. All expectations come from the logs.
func TestAnalyze(t *testing.T) {
	dirs := sampleDirs(t, ".")
	if len(dirs) == 0 {
		t.Fatal("no sample directories next to this test")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkAnalyze(t, dir) })
	}
}

// causesFor are the causes that agree with an error.log kind (CAUSES.md):
// a keep-alive race is logged as a premature close or a reset.
var causesFor = map[ErrorKind][]httpmatch.Cause{
	KindRefused:           {httpmatch.ConnectRefused},
	KindConnectTimeout:    {httpmatch.ConnectTimeout},
	KindPrematurelyClosed: {httpmatch.UpstreamClosed, httpmatch.KeepaliveRace},
	KindReset:             {httpmatch.UpstreamReset, httpmatch.KeepaliveRace},
	KindReadTimeout:       {httpmatch.UpstreamTimeout},
	KindNoValidHeader:     {httpmatch.InvalidResponse},
	KindInvalidHeader:     {httpmatch.InvalidResponse},
	KindNoLiveUpstreams:   {httpmatch.NoUpstream},
	KindUnreachable:       {httpmatch.ConnectUnreachable},
}

func analyzeSample(t *testing.T, dir string) (incidents, hidden []httpmatch.Incident) {
	t.Helper()
	meta, err := readMeta(filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range strings.Fields(meta["files"]) {
		names = append(names, filepath.Join(dir, f))
	}
	r, err := capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{}, func(in httpmatch.Incident) {
		if in.Hidden {
			hidden = append(hidden, in)
		} else {
			incidents = append(incidents, in)
		}
	})
	tr := flows.New(flows.Options{WantData: true}, a)
	for {
		p, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("read %s: %v", dir, err)
			}
			break
		}
		tr.Add(p)
		a.Advance(p.Time)
	}
	tr.Flush()
	a.Flush()
	return incidents, hidden
}

func checkAnalyze(t *testing.T, dir string) {
	meta, err := readMeta(filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	switch meta["proxy_software"] {
	case "haproxy":
		checkAnalyzeHAProxy(t, dir)
		return
	case "caddy":
		checkAnalyzeCaddy(t, dir)
		return
	}
	errs := readLog(t, filepath.Join(dir, "error.log"), ParseErrorLog)
	acc := readLog(t, filepath.Join(dir, "access.log"), ParseAccessLog)
	incidents, hidden := analyzeSample(t, dir)
	// The client side of tls-front is encrypted: its incidents are inferred.
	wantInferred := filepath.Base(dir) == "tls-front"

	used := make([]bool, len(incidents))
	hiddenUsed := make([]bool, len(hidden))
	queues := errorQueues(errs)
	var want, found, agree, wantHidden, foundHidden int
	for _, al := range acc {
		kinds, logged := alignTries(queues, al)
		name := fmt.Sprintf("%s %q %d at %s", al.Client, al.Request, al.Status, al.Time.Format("15:04:05.000"))
		if al.Status < 500 || al.Status > 599 {
			if len(al.Tries) < 2 {
				continue
			}
			// A request answered below 500 after a failed try: a hidden failure.
			wantHidden++
			i := matchIncident(hidden, hiddenUsed, al)
			if i < 0 {
				t.Errorf("%s: tries %s: no hidden failure", name, triesString(al))
				continue
			}
			hiddenUsed[i] = true
			foundHidden++
			if logged[0] && !slices.Contains(causesFor[kinds[0]], hidden[i].Cause) {
				t.Errorf("%s: hidden failure's cause\n- want: one of %v (error.log: %s)\n-  got: %s (%s)", name, causesFor[kinds[0]], kinds[0], hidden[i].Cause, hidden[i].Explanation)
			}
			continue
		}
		want++
		i := matchIncident(incidents, used, al)
		if i < 0 {
			t.Errorf("%s: no incident", name)
			continue
		}
		used[i] = true
		found++
		in := incidents[i]
		if in.Inferred != wantInferred {
			t.Errorf("%s: inferred\n- want: %v\n-  got: %v", name, wantInferred, in.Inferred)
		}
		wantUp, wantCauses, noLive := expectFromTries(al, kinds, logged)
		if in.Upstream != wantUp {
			t.Errorf("%s: upstream (tries %s)\n- want: %s\n-  got: %s", name, triesString(al), wantUp, in.Upstream)
		}
		if noLive && !strings.Contains(in.Explanation, "no live upstream") {
			t.Errorf("%s: $upstream_addr ends with a group name (no live upstreams), the explanation does not say so: %s", name, in.Explanation)
		}
		if !slices.Contains(wantCauses, in.Cause) {
			t.Errorf("%s: cause (tries %s)\n- want: one of %v\n-  got: %s (%s)", name, triesString(al), wantCauses, in.Cause, in.Explanation)
			continue
		}
		agree++
	}
	checkAllUsed(t, incidents, used, "access.log")
	for i, h := range hidden {
		if !hiddenUsed[i] {
			t.Errorf("hidden failure with no retried request in access.log: %s %s %s %s", h.Client, h.Method, h.URI, h.Cause)
		}
	}
	t.Logf("%s: %d/%d 5xx found, %d/%d causes agree; %d/%d hidden failures found", filepath.Base(dir), found, want, agree, want, foundHidden, wantHidden)
}

// errorQueues are the upstream error lines of error.log per client
// connection, in the order nginx wrote them.
func errorQueues(errs []ErrorLine) map[int64][]ErrorLine {
	q := map[int64][]ErrorLine{}
	for _, e := range errs {
		if e.Kind != KindOther && e.Conn != 0 {
			q[e.Conn] = append(q[e.Conn], e)
		}
	}
	return q
}

// alignTries pairs access line al's tries with the error.log lines nginx
// wrote for the request, consuming them: a connection's requests run one
// after another, and each failed try has one line, for its address (or,
// for 'no live upstreams', the group's name), in the order of the tries.
// A try with no line got an answer from the backend.
func alignTries(queues map[int64][]ErrorLine, al AccessLine) (kinds []ErrorKind, logged []bool) {
	q := queues[al.Conn]
	// Lines left from before this request began belong to requests that
	// never reached access.log (none in the samples): skip them.
	from := al.Time.Add(-al.RequestTime).Truncate(time.Second)
	for len(q) > 0 && q[0].Request != al.Request && q[0].Time.Before(from) {
		q = q[1:]
	}
	kinds, logged = make([]ErrorKind, len(al.Tries)), make([]bool, len(al.Tries))
	for i, tr := range al.Tries {
		if (tr.Status == 0 || tr.Status >= 500) && len(q) > 0 && q[0].Request == al.Request && errorAddr(q[0]) == tr.Addr {
			kinds[i], logged[i] = q[0].Kind, true
			q = q[1:]
		}
	}
	queues[al.Conn] = q
	return kinds, logged
}

// errorAddr is the upstream an error line names as $upstream_addr would:
// ip:port, or the group's name.
func errorAddr(e ErrorLine) string {
	if e.UpstreamAddr.IsValid() {
		return e.UpstreamAddr.String()
	}
	u, err := url.Parse(e.Upstream)
	if err != nil {
		return ""
	}
	return u.Host
}

// expectFromTries says what the incident of a 5xx must show: the upstream
// of the last ip:port try and that try's cause. A group name after it
// means nginx then found no live upstream (noLive); only a group name, no
// upstream contacted at all: no_upstream.
func expectFromTries(al AccessLine, kinds []ErrorKind, logged []bool) (up netip.AddrPort, causes []httpmatch.Cause, noLive bool) {
	last := -1
	for i, tr := range al.Tries {
		if ap, err := netip.ParseAddrPort(tr.Addr); err == nil {
			last, up = i, unmapAP(ap)
		}
	}
	switch {
	case last < 0:
		return netip.AddrPort{}, []httpmatch.Cause{httpmatch.NoUpstream}, false
	case logged[last]:
		causes = causesFor[kinds[last]]
	case al.Tries[last].Status >= 500:
		causes = []httpmatch.Cause{httpmatch.BackendStatus}
	default:
		causes = []httpmatch.Cause{httpmatch.Unknown}
	}
	return up, causes, last < len(al.Tries)-1
}

func triesString(al AccessLine) string {
	var b strings.Builder
	for i, tr := range al.Tries {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", tr.Addr, tr.Status)
	}
	return "[" + b.String() + "]"
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// matchIncident finds the unused incident for an access line: same client,
// status and request, sent closest to the time nginx logged it ($msec is
// when the request finished, to the millisecond).
func matchIncident(ins []httpmatch.Incident, used []bool, al AccessLine) int {
	best, bestD := -1, time.Duration(0)
	for i, in := range ins {
		if used[i] || in.Status != al.Status || (in.Client.IsValid() || !in.Inferred) && in.Client != unmapAP(al.Client) ||
			!sameRequest(in, al.Request) {
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

// sameRequest: an inferred incident whose attempts never sent the request
// (failed connects) matches any request.
func sameRequest(in httpmatch.Incident, request string) bool {
	if in.Inferred && in.URI == "" {
		return true
	}
	f := strings.Fields(request)
	return len(f) >= 2 && f[0] == in.Method && f[1] == in.URI
}

// checkAllUsed reports every incident that no line of the proxy's log (named
// logName) matched: why502 saw a 5xx the proxy did not log as one.
func checkAllUsed(t *testing.T, incidents []httpmatch.Incident, used []bool, logName string) {
	t.Helper()
	for i, in := range incidents {
		if !used[i] {
			t.Errorf("incident not in %s as a 5xx: %s %d %s %s %s (%s)", logName,
				in.Time.Format("15:04:05.000000"), in.Status, in.Client, in.Method, in.URI, in.Cause)
		}
	}
}
