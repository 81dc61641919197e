package samples

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"why502/flows"
)

// checkHAProxySample holds a HAProxy sample to its log: every termination
// state that names the server must be visible on the connection %bi:%bp
// names, and failed connects must add up.
func checkHAProxySample(t *testing.T, dir string, meta map[string]string) {
	readTimeout, err := time.ParseDuration(meta["proxy_read_timeout"])
	if err != nil {
		t.Fatalf("meta proxy_read_timeout: %v", err)
	}
	lines := readLog(t, filepath.Join(dir, "haproxy.log"), ParseHAProxyLog)
	if len(lines) == 0 {
		t.Fatal("haproxy.log: no request lines")
	}
	ups := map[netip.AddrPort]bool{}
	wantFailedConnects := map[netip.AddrPort]int{}
	wantTimeouts := map[netip.AddrPort]int{}
	for _, h := range lines {
		if !h.ServerAddr.IsValid() {
			continue
		}
		ups[h.ServerAddr] = true
		// Every retry follows a failed connection attempt (retries apply to
		// connects only: no retry-on), and SC/sC end with one more.
		wantFailedConnects[h.ServerAddr] += h.Retries
		if h.Phase() == 'C' && (h.ServerAborted() || h.ServerTimeout()) {
			wantFailedConnects[h.ServerAddr]++
		}
		if h.Termination == "sH" {
			wantTimeouts[h.ServerAddr]++
		}
	}
	var names []string
	for _, f := range strings.Fields(meta["files"]) {
		names = append(names, filepath.Join(dir, f))
	}
	conns := track(t, names)
	obs := classifyConns(conns, ups)
	byLocal := map[[2]netip.AddrPort][]flows.Conn{}
	for _, c := range conns {
		byLocal[[2]netip.AddrPort{c.Client, c.Server}] = append(byLocal[[2]netip.AddrPort{c.Client, c.Server}], c)
	}
	for ap := range ups {
		if got := len(obs.refused[ap]) + len(obs.unanswered[ap]); got != wantFailedConnects[ap] {
			t.Errorf("%s failed connects: haproxy.log and capture disagree\n- want: %d (sum of %%rc, plus SC/sC lines)\n-  got: %d refused or unanswered connections%s%s",
				ap, wantFailedConnects[ap], got, describe(obs.refused[ap]), describe(obs.unanswered[ap]))
		}
		if got := len(obs.clientAbandons[ap]); got != wantTimeouts[ap] {
			t.Errorf("%s read timeouts: haproxy.log and capture disagree\n- want: %d sH lines\n-  got: %d connections HAProxy closed first, its request unanswered%s",
				ap, wantTimeouts[ap], got, describe(obs.clientAbandons[ap]))
		}
		for _, c := range obs.clientAbandons[ap] {
			if c.Teardown.SinceOwnData < readTimeout-20*time.Millisecond {
				t.Errorf("%s: HAProxy closed %v after its request, sooner than timeout server %v%s",
					ap, c.Teardown.SinceOwnData, readTimeout, describe([]flows.Conn{c}))
			}
		}
	}
	// Per line: the connection %bi:%bp names must show what %ts says.
	for _, h := range lines {
		if !h.Local.IsValid() || !h.ServerAddr.IsValid() {
			continue
		}
		cs := byLocal[[2]netip.AddrPort{h.Local, h.ServerAddr}]
		if len(cs) == 0 {
			t.Errorf("%s %q (%s): no connection %s -> %s in the capture", h.Time.Format(time.StampMilli), h.Request, h.Termination, h.Local, h.ServerAddr)
			continue
		}
		var ok bool
		for _, c := range cs {
			td := c.Teardown
			switch h.Termination {
			case "SC":
				ok = ok || c.Handshake == flows.Refused
			case "SH":
				ok = ok || (td.By == flows.Server && td.PeerUnanswered)
			case "sH":
				ok = ok || (td.By == flows.Client && c.Bytes[flows.ServerToClient] == 0)
			case "PH":
				ok = ok || c.Bytes[flows.ServerToClient] > 0
			default:
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s %q: %%ts %s, but the connection does not show it%s", h.Time.Format(time.StampMilli), h.Request, h.Termination, describe(cs))
		}
	}
	t.Logf("%s: %d connections, %d log lines; capture: %s", filepath.Base(dir), len(conns), len(lines), obs)
}

// checkCaddySample holds a Caddy sample to its logs. Go's transport retries
// an idempotent request silently when a reused connection fails before the
// response, so a logged failure may stand for two failed connections: the
// counts of server closes are lower bounds, refused connects and response
// timeouts are exact.
func checkCaddySample(t *testing.T, dir string, meta map[string]string) {
	lines := readLog(t, filepath.Join(dir, "caddy.log"), ParseCaddyLog)
	access := readLog(t, filepath.Join(dir, "access.log"), ParseCaddyLog)
	if len(access) == 0 {
		t.Fatal("access.log: no lines")
	}
	ups := map[netip.AddrPort]bool{}
	want := map[upstreamKey]int{}
	var errorLines int
	for _, c := range lines {
		switch c.Entry {
		case CaddyRoundTrip:
			if c.UpstreamAddr.IsValid() {
				ups[c.UpstreamAddr] = true
				if c.Err != "" {
					want[upstreamKey{c.Kind, c.UpstreamAddr}]++
				}
			}
		case CaddyError:
			errorLines++
			if c.Status < 500 {
				t.Errorf("caddy.log: error line with status %d: %s", c.Status, c.Err)
			}
		}
	}
	var access5xx int
	for _, a := range access {
		if a.Entry == CaddyAccess && a.Status >= 500 {
			access5xx++
		}
	}
	// 5xx in access.log are Caddy's own (one error line each) or the
	// backend's, relayed (a roundtrip with that status, no error line).
	var relayed int
	for _, c := range lines {
		if c.Entry == CaddyRoundTrip && c.Err == "" && c.Status >= 500 {
			relayed++
		}
	}
	if access5xx != errorLines+relayed {
		t.Errorf("access.log has %d 5xx; caddy.log has %d error lines and %d relayed backend 5xx", access5xx, errorLines, relayed)
	}
	var names []string
	for _, f := range strings.Fields(meta["files"]) {
		names = append(names, filepath.Join(dir, f))
	}
	conns := track(t, names)
	obs := classifyConns(conns, ups)
	for ap := range ups {
		if w, got := want[upstreamKey{KindRefused, ap}], len(obs.refused[ap]); w != got {
			t.Errorf("%s refused: caddy.log and capture disagree\n- want: %d \"connection refused\" roundtrips\n-  got: %d REJ connections%s", ap, w, got, describe(obs.refused[ap]))
		}
		if w, got := want[upstreamKey{KindReadTimeout, ap}], len(obs.clientAbandons[ap]); w != got {
			t.Errorf("%s response timeouts: caddy.log and capture disagree\n- want: %d \"timeout awaiting response headers\"\n-  got: %d connections Caddy closed first%s", ap, w, got, describe(obs.clientAbandons[ap]))
		}
		closes := want[upstreamKey{KindPrematurelyClosed, ap}] + want[upstreamKey{KindReset, ap}]
		if got := len(obs.serverFIN[ap]) + len(obs.serverRST[ap]) + len(obs.keepaliveRace[ap]); got < closes {
			t.Errorf("%s server closes: caddy.log says %d (EOF, reset), the capture shows only %d", ap, closes, got)
		}
	}
	t.Logf("%s: %d connections; caddy.log: %s; capture: %s", filepath.Base(dir), len(conns), summarize(want), obs)
}
