package httpmatch_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

// The rules the real captures exercise once or not at all: the TLS front
// (roles.go's inferredUpstream, inferred incidents), retry chains, nginx's
// "no live upstreams" after a failed kept-alive connection, and a
// connect to an address with no host behind it (connect_unreachable).

var (
	tlsFront = netip.MustParseAddrPort("10.0.0.1:443")
	third    = netip.MustParseAddrPort("10.0.0.9:8080")
)

// clientHello and tlsRecord stand for a TLS front's traffic: only the
// record header matters (isTLSRecord), the rest cannot be read anyway.
const (
	clientHello = "\x16\x03\x01\x00\x08hellohel"
	tlsRecord   = "\x17\x03\x03\x00\x08appdata."
)

// tlsExchange is a client's TLS connection to the front at t: its
// ClientHello, then, after d (0: never), the proxy's records back.
func tlsExchange(t time.Time, from netip.AddrPort, d time.Duration) *flowtest.Builder {
	b := flowtest.New(t, from, tlsFront).SYN().SYNACK().ACK(flows.Client).Data(c2s, clientHello)
	if d > 0 {
		b.At(d).Data(s2c, tlsRecord)
	}
	return b
}

// upFrom opens a connection from local to server at t.
func upFrom(t time.Time, local, server netip.AddrPort) *flowtest.Builder {
	return flowtest.New(t, local, server).SYN().SYNACK().ACK(flows.Client)
}

// refusedAt is a connect from the proxy's port to server refused at t.
func refusedAt(t time.Time, port uint16, server netip.AddrPort) *flowtest.Builder {
	return flowtest.New(t, netip.AddrPortFrom(proxy.Addr(), port), server).SYN().Refuse()
}

func TestTLSFrontRoles(t *testing.T) {
	start := at0.Add(time.Second)
	gw := netip.MustParseAddrPort("10.250.2.1:40001") // the proxy's upstream-side address, another interface
	stranger := netip.MustParseAddrPort("10.9.9.9:5555")
	tests := []struct {
		name     string
		opts     httpmatch.AnalyzeOptions
		builders func() []*flowtest.Builder
		// want: the inferred incidents, as "status cause upstream".
		want []string
	}{
		{"upstream from the TLS front's own address", httpmatch.AnalyzeOptions{}, func() []*flowtest.Builder {
			f := tlsExchange(start, netip.AddrPortFrom(client.Addr(), 50001), 2*time.Millisecond)
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).Data(s2c, response(503))
			return []*flowtest.Builder{f, u}
		}, []string{"503 backend_status " + backend.String()}},
		{"upstream from another interface: every HTTP server is an upstream", httpmatch.AnalyzeOptions{}, func() []*flowtest.Builder {
			f := tlsExchange(start, netip.AddrPortFrom(client.Addr(), 50001), 2*time.Millisecond)
			u := upFrom(start.Add(500*time.Microsecond), gw, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).FIN(flows.Server)
			return []*flowtest.Builder{f, u}
		}, []string{"502 upstream_closed " + backend.String()}},
		{"same host: HTTP from another host is not the proxy's", httpmatch.AnalyzeOptions{}, func() []*flowtest.Builder {
			f := tlsExchange(start, netip.AddrPortFrom(client.Addr(), 50001), 2*time.Millisecond)
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).Data(s2c, response(503))
			s := upFrom(start.Add(100*time.Millisecond), stranger, other).Data(c2s, request("GET", "/y"))
			s.At(time.Millisecond).Data(s2c, response(502))
			return []*flowtest.Builder{f, u, s}
		}, []string{"503 backend_status " + backend.String()}},
		{"--upstream names the backends", httpmatch.AnalyzeOptions{Upstream: []httpmatch.Endpoint{{Net: netip.PrefixFrom(other.Addr(), 32), Port: other.Port()}}}, func() []*flowtest.Builder {
			f := tlsExchange(start, netip.AddrPortFrom(client.Addr(), 50001), 2*time.Millisecond)
			u := upFrom(start.Add(500*time.Microsecond), gw, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).Data(s2c, response(503))
			o := upFrom(start.Add(time.Second), gw, other).Data(c2s, request("GET", "/z"))
			o.At(time.Millisecond).RST(flows.Server)
			return []*flowtest.Builder{f, u, o}
		}, []string{"502 upstream_reset " + other.String()}},
		{"a plain-HTTP front is not hidden", httpmatch.AnalyzeOptions{}, func() []*flowtest.Builder {
			wf, wu := warmup()
			f := frontExchange(start, 50001, "GET", "/x", 503, 2*time.Millisecond)
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).Data(s2c, response(503))
			return []*flowtest.Builder{wf, wu, f, u}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			incidents, hidden := runAnalyzer(t, tc.opts, flowtest.Merge(tc.builders()...))
			var got []string
			for _, in := range incidents {
				if in.Inferred {
					got = append(got, fmt.Sprintf("%d %s %s", in.Status, in.Cause, in.Upstream))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || len(hidden) != 0 {
				t.Errorf("- want: %v\n-  got: %v (%d hidden; all: %v)", tc.want, got, len(hidden), describeAll(incidents))
			}
		})
	}
}

func describeAll(ins []httpmatch.Incident) []string {
	var out []string
	for _, in := range ins {
		out = append(out, fmt.Sprintf("%d %s %s inferred=%v client=%s %v", in.Status, in.Cause, in.Upstream, in.Inferred, in.Client, outcomes(in.Attempts)))
	}
	return out
}

// With a TLS front the 5xx is inferred from the last attempt: the status
// nginx sends for each outcome, and the client the proxy wrote to next.
func TestTLSFrontInferred(t *testing.T) {
	start := at0.Add(time.Second)
	cl := netip.AddrPortFrom(client.Addr(), 50001)
	tests := []struct {
		name       string
		attempts   func() []*flowtest.Builder // from start + 0.5 ms
		answer     time.Duration              // proxy's records to the client after start (0: none)
		wantStatus int
		wantCause  httpmatch.Cause
		wantClient bool
		wantURI    string
	}{
		{"refused: 502", func() []*flowtest.Builder {
			return []*flowtest.Builder{refusedAt(start.Add(500*time.Microsecond), 40001, other)}
		}, 2 * time.Millisecond, 502, httpmatch.ConnectRefused, true, ""},
		{"connect timeout: 504", func() []*flowtest.Builder {
			return []*flowtest.Builder{flowtest.New(start.Add(500*time.Microsecond), netip.AddrPortFrom(proxy.Addr(), 40001), other).
				SYN().At(time.Second).SYN()}
		}, 2002 * time.Millisecond, 504, httpmatch.ConnectTimeout, true, ""},
		{"closed: 502", func() []*flowtest.Builder {
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(300 * time.Millisecond).FIN(flows.Server)}
		}, 302 * time.Millisecond, 502, httpmatch.UpstreamClosed, true, "/x"},
		{"reset: 502", func() []*flowtest.Builder {
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Millisecond).RST(flows.Server)}
		}, 3 * time.Millisecond, 502, httpmatch.UpstreamReset, true, "/x"},
		{"read timeout: 504", func() []*flowtest.Builder {
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Second).FIN(flows.Client)}
		}, 1002 * time.Millisecond, 504, httpmatch.UpstreamTimeout, true, "/x"},
		{"backend 503: relayed", func() []*flowtest.Builder {
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Millisecond).Data(s2c, response(503))}
		}, 3 * time.Millisecond, 503, httpmatch.BackendStatus, true, "/x"},
		{"invalid header: 502", func() []*flowtest.Builder {
			u := upConn(start.Add(500*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Millisecond).Data(s2c, "HTTP/1.1 200 OK\r\nBad\x00Name: x\r\nContent-Length: 0\r\n\r\n")}
		}, 3 * time.Millisecond, 502, httpmatch.InvalidResponse, true, "/x"},
		{"client unknown: no records to a client after the attempt", func() []*flowtest.Builder {
			return []*flowtest.Builder{refusedAt(start.Add(500*time.Microsecond), 40001, other)}
		}, 0, 502, httpmatch.ConnectRefused, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := append([]*flowtest.Builder{tlsExchange(start, cl, tc.answer)}, tc.attempts()...)
			incidents, hidden := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(bs...))
			if len(incidents) != 1 || len(hidden) != 0 {
				t.Fatalf("- want: 1 incident\n-  got: %v, %d hidden", describeAll(incidents), len(hidden))
			}
			in := incidents[0]
			if !in.Inferred || in.Status != tc.wantStatus || in.Cause != tc.wantCause || in.URI != tc.wantURI {
				t.Errorf("- want: inferred %d %s uri %q\n-  got: inferred=%v %d %s uri %q (%s)",
					tc.wantStatus, tc.wantCause, tc.wantURI, in.Inferred, in.Status, in.Cause, in.URI, in.Explanation)
			}
			if tc.wantClient {
				if in.Client != cl || in.Proxy != tlsFront {
					t.Errorf("client by timing\n- want: %s -> %s\n-  got: %s -> %s (%s)", cl, tlsFront, in.Client, in.Proxy, in.Explanation)
				}
			} else if in.Client.IsValid() || !strings.Contains(in.Explanation, "cannot be told") {
				t.Errorf("client unknown\n- want: none, and the explanation says so\n-  got: %s (%s)", in.Client, in.Explanation)
			}
			if !strings.Contains(in.Explanation, "would decide it") {
				t.Errorf("the explanation does not say which capture would decide it: %s", in.Explanation)
			}
		})
	}
	t.Run("two clients: the one answered right after the attempt", func(t *testing.T) {
		c2 := netip.AddrPortFrom(client.Addr(), 50002)
		a := tlsExchange(start, cl, 500*time.Millisecond) // answered long after: not this 502
		b := tlsExchange(start.Add(100*time.Microsecond), c2, 2*time.Millisecond)
		r := refusedAt(start.Add(500*time.Microsecond), 40001, other)
		incidents, _ := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(a, b, r))
		if len(incidents) != 1 || incidents[0].Client != c2 {
			t.Errorf("- want: 1 incident for %s\n-  got: %v", c2, describeAll(incidents))
		}
	})
}

// retryCase is one row of TestRetryChains.
type retryCase struct {
	name     string
	alsoTLS  bool // run again behind a TLS front: the chain inferred from the upstream side
	status   int
	after    time.Duration
	attempts func(t0 time.Time) []*flowtest.Builder
	want     string // outcomes, in order
	wantUp   netip.AddrPort
	hidden   bool
}

// Retry chains: each failed attempt ends before the next begins, the
// incident's upstream and cause are the last attempt's.
func TestRetryChains(t *testing.T) {
	start := at0.Add(time.Second)
	tests := []retryCase{
		{"refused then closed", true, 502, 5 * time.Millisecond, func(t0 time.Time) []*flowtest.Builder {
			r := refusedAt(t0, 40001, other)
			u := upConn(t0.Add(time.Millisecond), 40002, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{r, u.At(2 * time.Millisecond).FIN(flows.Server)}
		}, "[connect_refused upstream_closed]", backend, false},
		{"closed then refused", true, 502, 5 * time.Millisecond, func(t0 time.Time) []*flowtest.Builder {
			u := upConn(t0, 40001, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).FIN(flows.Server)
			return []*flowtest.Builder{u, refusedAt(t0.Add(3*time.Millisecond), 40002, other)}
		}, "[upstream_closed connect_refused]", other, false},
		{"three attempts: refused, reset, refused", true, 502, 8 * time.Millisecond, func(t0 time.Time) []*flowtest.Builder {
			r1 := refusedAt(t0, 40001, other)
			u := upConn(t0.Add(time.Millisecond), 40002, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).RST(flows.Server)
			r2 := refusedAt(t0.Add(5*time.Millisecond), 40003, third)
			return []*flowtest.Builder{r1, u, r2}
		}, "[connect_refused upstream_reset connect_refused]", third, false},
		{"three attempts, the last answers: a hidden failure", false, 200, 8 * time.Millisecond, func(t0 time.Time) []*flowtest.Builder {
			r1 := refusedAt(t0, 40001, other)
			r2 := refusedAt(t0.Add(time.Millisecond), 40002, third)
			u := upConn(t0.Add(2*time.Millisecond), 40003, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{r1, r2, u.At(time.Millisecond).Data(s2c, response(200))}
		}, "[connect_refused connect_refused ok]", backend, true},
	}
	for _, tc := range tests {
		for _, tls := range []bool{false, true} {
			if tls && !tc.alsoTLS {
				continue
			}
			name := tc.name
			if tls {
				name = "TLS front: " + name
			}
			t.Run(name, func(t *testing.T) { checkRetryChain(t, start, tc, tls) })
		}
	}
}

// checkRetryChain runs one TestRetryChains case, with a plain HTTP front or
// behind TLS.
func checkRetryChain(t *testing.T, start time.Time, tc retryCase, tls bool) {
	t.Helper()
	var bs []*flowtest.Builder
	if tls {
		bs = append(bs, tlsExchange(start, netip.AddrPortFrom(client.Addr(), 50001), tc.after))
	} else {
		wf, wu := warmup()
		bs = append(bs, wf, wu, frontExchange(start, 50001, "GET", "/x", tc.status, tc.after))
	}
	bs = append(bs, tc.attempts(start.Add(500*time.Microsecond))...)
	incidents, hidden := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(bs...))
	got := incidents
	if tc.hidden {
		got = hidden
		if len(incidents) != 0 {
			t.Errorf("- want: no incident\n-  got: %v", describeAll(incidents))
		}
	} else if len(hidden) != 0 {
		t.Errorf("- want: no hidden failure\n-  got: %v", describeAll(hidden))
	}
	if len(got) != 1 {
		t.Fatalf("- want: 1\n-  got: %v", describeAll(got))
	}
	in := got[0]
	if o := fmt.Sprint(outcomes(in.Attempts)); o != tc.want || in.Upstream != tc.wantUp || in.Status != tc.status || in.Inferred != tls {
		t.Errorf("- want: %s upstream %s status %d inferred %v\n-  got: %s upstream %s status %d inferred %v (%s)",
			tc.want, tc.wantUp, tc.status, tls, o, in.Upstream, in.Status, in.Inferred, in.Explanation)
	}
	if wantCause := in.Attempts[len(in.Attempts)-1].Outcome; !tc.hidden && in.Cause != wantCause {
		t.Errorf("cause\n- want: %s (the last attempt's)\n-  got: %s", wantCause, in.Cause)
	}
}

// nginx gives a failure on a cached keep-alive connection one more try than
// its group has servers; when every server was tried, the last try finds
// none ('no live upstreams', the group's name last in $upstream_addr). The
// explanation says so, for nginx only, and only then.
func TestNoLiveUpstreamNote(t *testing.T) {
	start := at0.Add(5 * time.Second) // the warm connection idles 5 s
	up := start.Add(100 * time.Microsecond)
	tests := []struct {
		name     string
		server   string // the front's Server header
		attempts func(warm *flowtest.Builder) []*flowtest.Builder
		want     bool
	}{
		{"reused connection closed, then the other server refuses", "nginx/1.22.1", func(w *flowtest.Builder) []*flowtest.Builder {
			w.At(up.Sub(w.Now())).Data(c2s, request("GET", "/x")).At(time.Millisecond).FIN(flows.Server)
			return []*flowtest.Builder{refusedAt(up.Add(2*time.Millisecond), 40001, other)}
		}, true},
		{"reused connection reset, then the other server refuses", "nginx", func(w *flowtest.Builder) []*flowtest.Builder {
			w.At(up.Sub(w.Now())).Data(c2s, request("GET", "/x")).At(time.Millisecond).RST(flows.Server)
			return []*flowtest.Builder{refusedAt(up.Add(2*time.Millisecond), 40001, other)}
		}, true},
		{"fresh connection closed: no extra try", "nginx", func(*flowtest.Builder) []*flowtest.Builder {
			u := upConn(up, 40002, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).FIN(flows.Server)
			return []*flowtest.Builder{u, refusedAt(up.Add(3*time.Millisecond), 40001, other)}
		}, false},
		{"one server only: the retry is on it", "nginx", func(w *flowtest.Builder) []*flowtest.Builder {
			w.At(up.Sub(w.Now())).Data(c2s, request("GET", "/x")).At(time.Millisecond).FIN(flows.Server)
			return []*flowtest.Builder{refusedAt(up.Add(2*time.Millisecond), 40001, backend)}
		}, false},
		{"Caddy: not nginx's rule", "Caddy", func(w *flowtest.Builder) []*flowtest.Builder {
			w.At(up.Sub(w.Now())).Data(c2s, request("GET", "/x")).At(time.Millisecond).FIN(flows.Server)
			return []*flowtest.Builder{refusedAt(up.Add(2*time.Millisecond), 40001, other)}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wf, wu := warmup()
			extra := tc.attempts(wu)
			f := flowtest.New(start, netip.AddrPortFrom(client.Addr(), 50001), proxy).SYN().SYNACK().ACK(flows.Client)
			f.Data(c2s, request("GET", "/x")).At(5 * time.Millisecond)
			f.Data(s2c, "HTTP/1.1 502 Bad Gateway\r\nServer: "+tc.server+"\r\nContent-Length: 0\r\n\r\n")
			incidents, _ := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(append([]*flowtest.Builder{wf, wu, f}, extra...)...))
			if len(incidents) != 1 {
				t.Fatalf("- want: 1 incident\n-  got: %v", describeAll(incidents))
			}
			in := incidents[0]
			if len(in.Attempts) != 2 || in.Cause != httpmatch.ConnectRefused {
				t.Fatalf("- want: 2 attempts, connect_refused last\n-  got: %v %s", outcomes(in.Attempts), in.Cause)
			}
			if got := strings.Contains(in.Explanation, "no live upstream"); got != tc.want {
				t.Errorf("'no live upstream' in the explanation\n- want: %v\n-  got: %v (%s)", tc.want, got, in.Explanation)
			}
		})
	}
}

// An upstream address with no host behind it: the kernel waits ~3 s for an
// ARP reply, no SYN leaves (a tcp-filtered capture shows nothing), nginx
// answers 502. Only inferred, from the timing.
func TestConnectUnreachable(t *testing.T) {
	start := at0.Add(time.Second)
	tests := []struct {
		name      string
		warm      bool // the upstream side is in the capture (a served request)
		status    int
		after     time.Duration
		wantCause httpmatch.Cause
	}{
		{"502 after 3 s, upstream side visible", true, 502, 3005 * time.Millisecond, httpmatch.ConnectUnreachable},
		{"502 after 2.5 s, upstream side visible", true, 502, 2500 * time.Millisecond, httpmatch.ConnectUnreachable},
		{"502 at once, upstream side visible: no upstream", true, 502, time.Millisecond, httpmatch.NoUpstream},
		{"502 after 5 s, upstream side visible: not the ARP wait", true, 502, 5 * time.Second, httpmatch.NoUpstream},
		{"504 after 3 s, upstream side visible: not unreachable", true, 504, 3005 * time.Millisecond, httpmatch.NoUpstream},
		{"502 after 3 s, front only", false, 502, 3005 * time.Millisecond, httpmatch.ConnectUnreachable},
		{"502 at once, front only", false, 502, time.Millisecond, httpmatch.Unknown},
		{"504 after 1 s, front only", false, 504, time.Second, httpmatch.UpstreamTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var bs []*flowtest.Builder
			if tc.warm {
				wf, wu := warmup()
				bs = append(bs, wf, wu)
			}
			bs = append(bs, frontExchange(start, 50001, "GET", "/x", tc.status, tc.after))
			incidents, _ := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(bs...))
			if len(incidents) != 1 {
				t.Fatalf("- want: 1 incident\n-  got: %v", describeAll(incidents))
			}
			in := incidents[0]
			wantInferred := tc.wantCause != httpmatch.NoUpstream
			if in.Cause != tc.wantCause || in.Inferred != wantInferred || in.Upstream.IsValid() || len(in.Attempts) != 0 {
				t.Errorf("- want: %s inferred=%v, no upstream\n-  got: %s inferred=%v upstream %s (%s)",
					tc.wantCause, wantInferred, in.Cause, in.Inferred, in.Upstream, in.Explanation)
			}
			if in.Cause == httpmatch.ConnectUnreachable && !strings.Contains(in.Explanation, "'arp or tcp'") {
				t.Errorf("the explanation does not say which capture would decide it: %s", in.Explanation)
			}
		})
	}
}
