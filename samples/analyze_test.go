package samples

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
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
	KindUnreachable:       {httpmatch.Unknown},
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
	if meta["nginx_version"] == "" {
		t.Skip("not an nginx sample: only nginx's logs are compared so far")
	}
	errs := readLog(t, filepath.Join(dir, "error.log"), ParseErrorLog)
	acc := readLog(t, filepath.Join(dir, "access.log"), ParseAccessLog)
	incidents, hidden := analyzeSample(t, dir)

	used := make([]bool, len(incidents))
	var want, found, agree int
	for _, al := range acc {
		if al.Status < 500 || al.Status > 599 {
			continue
		}
		want++
		name := fmt.Sprintf("%s %q %d at %s", al.Client, al.Request, al.Status, al.Time.Format("15:04:05.000"))
		i := matchIncident(incidents, used, al)
		if i < 0 {
			t.Errorf("%s: no incident", name)
			continue
		}
		used[i] = true
		found++
		in := incidents[i]
		if n := len(al.Tries); n > 0 {
			wantUp, _ := netip.ParseAddrPort(al.Tries[n-1].Addr)
			if in.Upstream != unmapAP(wantUp) {
				t.Errorf("%s: upstream\n- want: %s\n-  got: %s", name, wantUp, in.Upstream)
			}
		}
		ok, wantCauses := causeAgrees(errs, al, in.Cause)
		if !ok {
			t.Errorf("%s: cause\n- want: one of %v\n-  got: %s (%s)", name, wantCauses, in.Cause, in.Explanation)
			continue
		}
		agree++
	}
	for i, in := range incidents {
		if !used[i] {
			t.Errorf("incident not in access.log as a 5xx: %s %d %s %s %s (%s)",
				in.Time.Format("15:04:05.000000"), in.Status, in.Client, in.Method, in.URI, in.Cause)
		}
	}
	for _, h := range hidden {
		if !hiddenInLog(acc, h) {
			t.Errorf("hidden failure with no retried request in access.log: %s %s %s %s", h.Client, h.Method, h.URI, h.Cause)
		}
	}
	t.Logf("%s: %d/%d 5xx found, %d/%d causes agree, %d hidden failures", filepath.Base(dir), found, want, agree, want, len(hidden))
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
		if used[i] || in.Status != al.Status || in.Client != unmapAP(al.Client) || !sameRequest(in, al.Request) {
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

func sameRequest(in httpmatch.Incident, request string) bool {
	f := strings.Fields(request)
	return len(f) >= 2 && f[0] == in.Method && f[1] == in.URI
}

// causeAgrees checks a cause against the error.log lines of the request:
// the last upstream error nginx logged for it while it was in progress
// decides (earlier ones were retried); no line and a 5xx from the upstream
// means the backend itself answered 5xx.
func causeAgrees(errs []ErrorLine, al AccessLine, got httpmatch.Cause) (bool, []httpmatch.Cause) {
	from := al.Time.Add(-al.RequestTime).Truncate(time.Second)
	var last *ErrorLine
	for i := range errs {
		e := &errs[i]
		if e.Kind == KindOther || e.Conn != al.Conn || e.Request != al.Request {
			continue
		}
		if e.Time.Before(from) || e.Time.After(al.Time) {
			continue
		}
		last = e
	}
	var want []httpmatch.Cause
	switch {
	case last != nil:
		want = causesFor[last.Kind]
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

// hiddenInLog reports whether access.log has the hidden failure's request
// answered below 500 after more than one upstream try.
func hiddenInLog(acc []AccessLine, h httpmatch.Incident) bool {
	for _, al := range acc {
		if al.Status < 500 && len(al.Tries) > 1 && unmapAP(al.Client) == h.Client && sameRequest(h, al.Request) {
			return true
		}
	}
	return false
}
