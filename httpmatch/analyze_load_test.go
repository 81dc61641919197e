package httpmatch_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

// Hundreds of identical requests in flight at once, each served by its
// own upstream connection whose backend port says how it ends: the
// analyzer must pair each front 5xx with its own attempt by timing alone.
// Relay delays are drawn at random (20-220 us) here, unlike a real proxy's,
// so a few pairings are truly ambiguous (a failed connect carries no URI);
// at most 2 % may go to a concurrent request.
func TestAnalyzerConcurrentLoad(t *testing.T) {
	const n = 400
	rng := rand.New(rand.NewPCG(1, 2))
	ok := netip.MustParseAddrPort("10.0.0.7:8080")     // answers 200
	bad := netip.MustParseAddrPort("10.0.0.7:8081")    // answers 502 itself
	closer := netip.MustParseAddrPort("10.0.0.7:8082") // closes without answering
	refuse := netip.MustParseAddrPort("10.0.0.7:8083") // nothing listens
	type want struct {
		status   int
		upstream netip.AddrPort
		cause    httpmatch.Cause
	}
	wants := map[netip.AddrPort]want{}
	var bs []*flowtest.Builder
	for i := range n {
		start := at0.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		cli := netip.AddrPortFrom(client.Addr(), uint16(20000+i))
		local := netip.AddrPortFrom(proxy.Addr(), uint16(40000+i))
		dial := time.Duration(50+rng.IntN(500)) * time.Microsecond
		work := time.Duration(1+rng.IntN(40)) * time.Millisecond
		relay := time.Duration(20+rng.IntN(200)) * time.Microsecond
		f := flowtest.New(start, cli, proxy).SYN().SYNACK().ACK(flows.Client).Data(c2s, request("GET", "/ok"))
		var w want
		switch kind := i % 4; {
		case kind == 0 || i < 4:
			u := upConn(start.Add(dial), local.Port(), ok).Data(c2s, request("GET", "/ok"))
			u.At(work).Data(s2c, response(200))
			bs = append(bs, u)
			w = want{200, ok, httpmatch.OutcomeOK}
		case kind == 1:
			u := upConn(start.Add(dial), local.Port(), bad).Data(c2s, request("GET", "/ok"))
			u.At(work).Data(s2c, response(502))
			bs = append(bs, u)
			w = want{502, bad, httpmatch.BackendStatus}
		case kind == 2:
			u := upConn(start.Add(dial), local.Port(), closer).Data(c2s, request("GET", "/ok"))
			u.At(work).FIN(flows.Server).FIN(flows.Client)
			bs = append(bs, u)
			w = want{502, closer, httpmatch.UpstreamClosed}
		default:
			work = time.Duration(rng.IntN(100)) * time.Microsecond
			u := flowtest.New(start.Add(dial), local, refuse).SYN().At(work).Refuse()
			bs = append(bs, u)
			w = want{502, refuse, httpmatch.ConnectRefused}
		}
		f.At(dial+work+relay).Data(s2c, response(w.status))
		bs = append(bs, f)
		wants[cli] = w
	}
	incidents, hidden := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(bs...))
	if len(hidden) != 0 {
		t.Errorf("- want: no hidden failures\n-  got: %d", len(hidden))
	}
	var want5xx int
	for _, w := range wants {
		if w.status >= 500 {
			want5xx++
		}
	}
	if len(incidents) != want5xx {
		t.Errorf("- want: %d incidents\n-  got: %d", want5xx, len(incidents))
	}
	wrong := 0
	for _, in := range incidents {
		w := wants[in.Client]
		if in.Status != w.status || in.Upstream != w.upstream || in.Cause != w.cause || len(in.Attempts) != 1 {
			wrong++
			if wrong <= 5 {
				t.Logf("%s:\n- want: %d from %s, %s\n-  got: %d from %s, %s, %d attempts", in.Client, w.status, w.upstream, w.cause,
					in.Status, in.Upstream, in.Cause, len(in.Attempts))
			}
		}
	}
	if wrong*50 > len(incidents) {
		t.Errorf("%d of %d incidents paired with another request's attempt (more than 2 %%)", wrong, len(incidents))
	}
	t.Logf("%d of %d incidents paired with another request's attempt", wrong, len(incidents))
	for i := 1; i < len(incidents); i++ {
		if incidents[i].Time.Before(incidents[i-1].Time) {
			t.Fatalf("incidents out of order at %d: %s after %s", i, incidents[i].Time, incidents[i-1].Time)
		}
	}
}
