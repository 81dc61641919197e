package httpmatch_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

var (
	at0     = time.Date(2026, 3, 4, 14, 28, 0, 0, time.UTC)
	client  = netip.MustParseAddrPort("10.1.2.3:51234")
	proxy   = netip.MustParseAddrPort("10.0.0.1:80")
	backend = netip.MustParseAddrPort("10.0.0.7:8080")
	other   = netip.MustParseAddrPort("10.0.0.8:8080")
)

const (
	c2s = flows.ClientToServer
	s2c = flows.ServerToClient
)

func request(method, uri string) string {
	if method == "POST" {
		return method + " " + uri + " HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 2\r\n\r\n{}"
	}
	return method + " " + uri + " HTTP/1.1\r\nHost: shop.example\r\n\r\n"
}

func response(status int) string {
	return fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status)
}

// upConn opens a connection from the proxy (local port) to server at t.
func upConn(t time.Time, port uint16, server netip.AddrPort) *flowtest.Builder {
	b := flowtest.New(t, netip.AddrPortFrom(proxy.Addr(), port), server)
	return b.SYN().SYNACK().ACK(flows.Client)
}

// frontExchange is one client request to the proxy at t, answered with
// status after d.
func frontExchange(t time.Time, port uint16, method, uri string, status int, d time.Duration) *flowtest.Builder {
	b := flowtest.New(t, netip.AddrPortFrom(client.Addr(), port), proxy)
	b.SYN().SYNACK().ACK(flows.Client).Data(c2s, request(method, uri))
	return b.At(d).Data(s2c, response(status))
}

// warmup is a request the proxy served from the backend, so that roles
// can be learned; it returns the kept-alive upstream connection.
func warmup() (*flowtest.Builder, *flowtest.Builder) {
	f := frontExchange(at0, 50000, "GET", "/warm", 200, 3*time.Millisecond)
	u := upConn(at0.Add(time.Millisecond), 40000, backend)
	u.Data(c2s, request("GET", "/warm")).At(500*time.Microsecond).Data(s2c, response(200))
	return f, u
}

func runAnalyzer(t *testing.T, opts httpmatch.AnalyzeOptions, pkts []capture.Packet) (incidents, hidden []httpmatch.Incident) {
	t.Helper()
	a := httpmatch.NewAnalyzer(opts, func(in httpmatch.Incident) {
		if in.Hidden {
			hidden = append(hidden, in)
		} else {
			incidents = append(incidents, in)
		}
	})
	tr := flows.New(flows.Options{WantData: true}, a)
	for i := range pkts {
		tr.Add(&pkts[i])
		a.Advance(pkts[i].Time)
	}
	tr.Flush()
	a.Flush()
	return incidents, hidden
}

func outcomes(as []httpmatch.Attempt) []httpmatch.Cause {
	var out []httpmatch.Cause
	for _, a := range as {
		out = append(out, a.Outcome)
	}
	return out
}

func TestAnalyzerCauses(t *testing.T) {
	start := at0.Add(5 * time.Second) // kept-alive connections idle 5 s
	up := start.Add(100 * time.Microsecond)
	tests := []struct {
		name     string
		method   string
		status   int
		after    time.Duration // front response after the front request
		upstream func(warm *flowtest.Builder) []*flowtest.Builder
		want     httpmatch.Cause
		wantUp   netip.AddrPort
	}{
		{"connect refused", "GET", 502, time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			return []*flowtest.Builder{flowtest.New(up, netip.AddrPortFrom(proxy.Addr(), 40001), other).SYN().Refuse()}
		}, httpmatch.ConnectRefused, other},
		{"connect timeout", "GET", 504, 1001 * time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			return []*flowtest.Builder{flowtest.New(up, netip.AddrPortFrom(proxy.Addr(), 40001), other).SYN().At(time.Second).SYN()}
		}, httpmatch.ConnectTimeout, other},
		{"connect timeout decided long before the attempt is done", "GET", 504, 3001 * time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			// The tracker finishes an unanswered attempt only after its idle
			// timeout (5 min); traffic a minute later forces the decision
			// while the attempt is still open.
			syns := flowtest.New(up, netip.AddrPortFrom(proxy.Addr(), 40001), other).SYN().At(time.Second).SYN().At(2 * time.Second).SYN()
			later := frontExchange(start.Add(time.Minute), 50002, "GET", "/later", 200, time.Millisecond)
			return []*flowtest.Builder{syns, later}
		}, httpmatch.ConnectTimeout, other},
		{"upstream reset", "GET", 502, 2 * time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Millisecond).RST(flows.Server)}
		}, httpmatch.UpstreamReset, backend},
		{"upstream closed", "GET", 502, 302 * time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(300 * time.Millisecond).FIN(flows.Server).FIN(flows.Client)}
		}, httpmatch.UpstreamClosed, backend},
		{"upstream timeout", "GET", 504, 1002 * time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Second).FIN(flows.Client).FIN(flows.Server)}
		}, httpmatch.UpstreamTimeout, backend},
		{"invalid response", "GET", 502, 2 * time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Millisecond).Data(s2c, "SSH-2.0-NotHTTP\r\n").FIN(flows.Server)}
		}, httpmatch.InvalidResponse, backend},
		{"backend status", "GET", 503, 2 * time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x"))
			return []*flowtest.Builder{u.At(time.Millisecond).Data(s2c, response(503))}
		}, httpmatch.BackendStatus, backend},
		{"no upstream", "GET", 502, time.Millisecond, func(*flowtest.Builder) []*flowtest.Builder {
			return nil
		}, httpmatch.NoUpstream, netip.AddrPort{}},
		{"keep-alive race: FIN before the request", "POST", 502, time.Millisecond, func(w *flowtest.Builder) []*flowtest.Builder {
			w.At(up.Sub(w.Now())).FIN(flows.Server)
			w.At(200*time.Microsecond).Data(c2s, request("POST", "/x")).At(100 * time.Microsecond).RST(flows.Server)
			return nil
		}, httpmatch.KeepaliveRace, backend},
		{"keep-alive race: FIN right after the request", "POST", 502, time.Millisecond, func(w *flowtest.Builder) []*flowtest.Builder {
			w.At(up.Sub(w.Now())).Data(c2s, request("POST", "/x")).At(50 * time.Microsecond).FIN(flows.Server)
			return nil
		}, httpmatch.KeepaliveRace, backend},
		{"reused connection closed long after the request", "POST", 502, 302 * time.Millisecond, func(w *flowtest.Builder) []*flowtest.Builder {
			w.At(up.Sub(w.Now())).Data(c2s, request("POST", "/x")).At(300 * time.Millisecond).FIN(flows.Server)
			return nil
		}, httpmatch.UpstreamClosed, backend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wf, wu := warmup()
			extra := tc.upstream(wu)
			f := frontExchange(start, 50001, tc.method, "/x", tc.status, tc.after)
			pkts := flowtest.Merge(append([]*flowtest.Builder{wf, wu, f}, extra...)...)
			incidents, hidden := runAnalyzer(t, httpmatch.AnalyzeOptions{}, pkts)
			if len(incidents) != 1 || len(hidden) != 0 {
				t.Fatalf("- want: 1 incident, no hidden failure\n-  got: %d incidents %v, %d hidden", len(incidents), incidents, len(hidden))
			}
			in := incidents[0]
			if in.Cause != tc.want || in.Upstream != tc.wantUp || in.Status != tc.status || in.Inferred {
				t.Errorf("- want: %s upstream %s status %d\n-  got: %s upstream %s status %d inferred %v (%s)",
					tc.want, tc.wantUp, tc.status, in.Cause, in.Upstream, in.Status, in.Inferred, in.Explanation)
			}
			if in.Proxy != proxy || in.Client.Addr() != client.Addr() || in.Method != tc.method || in.URI != "/x" {
				t.Errorf("- want: %s %s /x to %s\n-  got: %s %s %s to %s", client.Addr(), tc.method, proxy, in.Client, in.Method, in.URI, in.Proxy)
			}
			if len(in.Evidence) < 2 || in.Explanation == "" {
				t.Errorf("no evidence or explanation: %+v", in)
			}
		})
	}
}

// Two identical requests at once through the proxy, one answered 200 by
// one backend, the other 502 by another; a retry after a refused connect;
// the front side alone. Roles and attempts come from timing only.
func TestAnalyzerRolesConcurrency(t *testing.T) {
	start := at0.Add(time.Second)
	t.Run("concurrent identical requests", func(t *testing.T) {
		wf, wu := warmup()
		f1 := frontExchange(start, 50001, "GET", "/x", 200, 3*time.Millisecond)
		f2 := frontExchange(start.Add(100*time.Microsecond), 50002, "GET", "/x", 502, 4*time.Millisecond)
		u1 := upConn(start.Add(200*time.Microsecond), 40001, other).Data(c2s, request("GET", "/x"))
		u1.At(3500*time.Microsecond).Data(s2c, response(502)) // answers f2 (502 at 4.1 ms)
		u2 := upConn(start.Add(300*time.Microsecond), 40002, backend).Data(c2s, request("GET", "/x"))
		u2.At(2*time.Millisecond).Data(s2c, response(200)) // answers f1 (200 at 3 ms)
		incidents, hidden := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(wf, wu, f1, f2, u1, u2))
		if len(incidents) != 1 || len(hidden) != 0 {
			t.Fatalf("- want: 1 incident\n-  got: %d, %d hidden", len(incidents), len(hidden))
		}
		if in := incidents[0]; in.Client.Port() != 50002 || in.Upstream != other || in.Cause != httpmatch.BackendStatus {
			t.Errorf("- want: client port 50002, upstream %s, backend_status\n-  got: %s, %s, %s", other, in.Client, in.Upstream, in.Cause)
		}
	})
	t.Run("retry after refused connect is a hidden failure", func(t *testing.T) {
		wf, wu := warmup()
		f := frontExchange(start, 50001, "GET", "/x", 200, 3*time.Millisecond)
		r := flowtest.New(start.Add(100*time.Microsecond), netip.AddrPortFrom(proxy.Addr(), 40001), other).SYN().Refuse()
		u := upConn(start.Add(time.Millisecond), 40002, backend).Data(c2s, request("GET", "/x"))
		u.At(time.Millisecond).Data(s2c, response(200))
		incidents, hidden := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(wf, wu, f, r, u))
		if len(incidents) != 0 || len(hidden) != 1 {
			t.Fatalf("- want: no incident, 1 hidden failure\n-  got: %d, %d", len(incidents), len(hidden))
		}
		got := fmt.Sprint(outcomes(hidden[0].Attempts))
		if want := "[connect_refused ok]"; got != want || hidden[0].Cause != httpmatch.ConnectRefused {
			t.Errorf("- want: %s, cause connect_refused\n-  got: %s, cause %s", want, got, hidden[0].Cause)
		}
	})
	t.Run("retries chain: closed then refused", func(t *testing.T) {
		wf, wu := warmup()
		f := frontExchange(start, 50001, "GET", "/x", 502, 3*time.Millisecond)
		u := upConn(start.Add(100*time.Microsecond), 40001, backend).Data(c2s, request("GET", "/x"))
		u.At(time.Millisecond).FIN(flows.Server)
		r := flowtest.New(start.Add(2*time.Millisecond), netip.AddrPortFrom(proxy.Addr(), 40002), other).SYN().Refuse()
		incidents, _ := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(wf, wu, f, u, r))
		if len(incidents) != 1 {
			t.Fatalf("- want: 1 incident\n-  got: %d", len(incidents))
		}
		in := incidents[0]
		if got, want := fmt.Sprint(outcomes(in.Attempts)), "[upstream_closed connect_refused]"; got != want || in.Upstream != other {
			t.Errorf("- want: %s upstream %s\n-  got: %s upstream %s", want, other, got, in.Upstream)
		}
	})
	t.Run("front side only: inferred", func(t *testing.T) {
		f := frontExchange(start, 50001, "GET", "/x", 504, time.Second)
		incidents, _ := runAnalyzer(t, httpmatch.AnalyzeOptions{}, flowtest.Merge(f))
		if len(incidents) != 1 || !incidents[0].Inferred || incidents[0].Cause != httpmatch.UpstreamTimeout {
			t.Fatalf("- want: 1 inferred upstream_timeout\n-  got: %+v", incidents)
		}
	})
	t.Run("--front and --upstream override inference", func(t *testing.T) {
		// Without a served request there is nothing to learn from; the flags say it.
		f := frontExchange(start, 50001, "GET", "/x", 502, 2*time.Millisecond)
		r := flowtest.New(start.Add(100*time.Microsecond), netip.AddrPortFrom(proxy.Addr(), 40001), other).SYN().Refuse()
		ep, err := httpmatch.ParseEndpoint("10.0.0.0/24")
		if err != nil {
			t.Fatal(err)
		}
		opts := httpmatch.AnalyzeOptions{Front: []netip.AddrPort{proxy}, Upstream: []httpmatch.Endpoint{ep}}
		incidents, _ := runAnalyzer(t, opts, flowtest.Merge(f, r))
		if len(incidents) != 1 || incidents[0].Cause != httpmatch.ConnectRefused || incidents[0].Inferred {
			t.Fatalf("- want: 1 connect_refused\n-  got: %+v", incidents)
		}
	})
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in, want string
		match    string
	}{
		{"10.0.0.7:8080", "10.0.0.7:8080", "10.0.0.7:8080"},
		{"[::1]:18081", "[::1]:18081", "[::1]:18081"},
		{"10.0.0.0/24", "10.0.0.0/24", "10.0.0.9:1"},
		{"10.0.0.7", "10.0.0.7/32", "10.0.0.7:99"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			e, err := httpmatch.ParseEndpoint(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.String(); got != tc.want {
				t.Errorf("- want: %s\n-  got: %s", tc.want, got)
			}
			if !e.Match(netip.MustParseAddrPort(tc.match)) {
				t.Errorf("%s does not match %s", e, tc.match)
			}
		})
	}
	if _, err := httpmatch.ParseEndpoint("nope"); err == nil {
		t.Error("want an error for \"nope\"")
	}
}

// nginx rejects a header field name with a NUL ("upstream sent invalid
// header"); the parser flags it so that the analyzer can say so.
func TestBadHeaderFlag(t *testing.T) {
	tests := []struct {
		name, resp string
		want       bool
	}{
		{"NUL in a name", "HTTP/1.1 200 OK\r\nBad\x00Name: x\r\nContent-Length: 0\r\n\r\n", true},
		{"space in a name", "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", true},
		{"clean", "HTTP/1.1 200 OK\r\nX-Good: x\r\nContent-Length: 0\r\n\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []httpmatch.Exchange
			p := httpmatch.NewConnParser(httpmatch.ParserOptions{}, httpmatch.SinkFunc(func(e *httpmatch.Exchange) { got = append(got, *e) }))
			at := flows.FrameRef{File: "t.pcap", Frame: 1, Time: at0}
			p.Data(c2s, []byte(request("GET", "/")), at)
			p.Data(s2c, []byte(tc.resp), at)
			p.Close(at)
			if len(got) != 1 {
				t.Fatalf("- want: 1 exchange\n-  got: %d", len(got))
			}
			if bad := got[0].Response.Flags&httpmatch.BadHeader != 0; bad != tc.want || got[0].Response.Status != 200 {
				t.Errorf("- want: bad-header %v, status 200\n-  got: %s", tc.want, got[0])
			}
		})
	}
}
