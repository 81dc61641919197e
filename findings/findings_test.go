package findings_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

type nop struct{}

func (nop) Data(*flows.Conn, flows.Chunk) {}
func (nop) Gap(*flows.Conn, flows.Gap)    {}
func (nop) Done(*flows.Conn)              {}

var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	backend = netip.MustParseAddrPort("10.0.0.7:8080")
)

func proxy(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port)
}

// served is a connection that carries one request and its answer, then
// (after close) ends as the server decides.
func served(at time.Duration, port uint16) *flowtest.Builder {
	b := flowtest.New(t0.Add(at), proxy(port), backend)
	b.SYN().SYNACK().ACK(flows.Client)
	b.Data(flows.ClientToServer, "GET / HTTP/1.1\r\n\r\n")
	b.At(time.Millisecond).Data(flows.ServerToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	return b
}

func collect(t *testing.T, pkts []capture.Packet) []findings.Finding {
	t.Helper()
	col := findings.New(findings.Options{})
	tap := findings.NewTap(nop{}, col)
	tr := flows.New(flows.Options{}, tap)
	for i := range pkts {
		tr.Add(&pkts[i])
		tap.Advance(pkts[i].Time)
	}
	tr.Flush()
	// The proxy used the backend: an incident says so.
	col.Incident(httpmatch.Incident{Time: t0, Status: 502, Proxy: netip.MustParseAddrPort("10.0.0.1:80"),
		Upstream: backend, Attempts: []httpmatch.Attempt{{Upstream: backend}}})
	return col.Findings(findings.Coverage{})
}

func kinds(fs []findings.Finding, k findings.Kind) []findings.Finding {
	var out []findings.Finding
	for _, f := range fs {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

func TestDown(t *testing.T) {
	tests := []struct {
		name string
		// build returns the connections; down is from 1 s to 3 s.
		build     func() []*flowtest.Builder
		count     int
		crash     bool
		open      bool // still down at the end of the capture
		startsAt  time.Duration
		wantWords string
	}{
		{
			name: "killed: open connections closed at once, a request unanswered",
			build: func() []*flowtest.Builder {
				a := served(0, 40000)
				a.At(time.Second - time.Millisecond).FIN(flows.Server).FIN(flows.Client)
				b := served(500*time.Millisecond, 40001)
				b.At(499*time.Millisecond).Data(flows.ClientToServer, "GET /x HTTP/1.1\r\n\r\n")
				b.At(500 * time.Microsecond).FIN(flows.Server).RST(flows.Client)
				r1 := flowtest.New(t0.Add(1100*time.Millisecond), proxy(40002), backend).SYN().Refuse()
				r2 := flowtest.New(t0.Add(2*time.Second), proxy(40003), backend).SYN().Refuse()
				ok := served(3*time.Second, 40004)
				return []*flowtest.Builder{a, b, r1, r2, ok}
			},
			count: 2, crash: true, startsAt: time.Second - time.Millisecond + time.Millisecond, wantWords: "crash or kill",
		},
		{
			name: "orderly stop: one FIN after the response, then refused",
			build: func() []*flowtest.Builder {
				a := served(0, 40000)
				a.At(time.Second - time.Millisecond).FIN(flows.Server).FIN(flows.Client)
				r1 := flowtest.New(t0.Add(1100*time.Millisecond), proxy(40002), backend).SYN().Refuse()
				ok := served(3*time.Second, 40004)
				return []*flowtest.Builder{a, r1, ok}
			},
			count: 1, startsAt: time.Second, wantWords: "orderly stop",
		},
		{
			name: "host gone: SYNs never answered, then back",
			build: func() []*flowtest.Builder {
				a := served(0, 40000)
				s1 := flowtest.New(t0.Add(1100*time.Millisecond), proxy(40002), backend).SYN()
				s1.At(time.Second).SYN()
				ok := served(3*time.Second, 40004)
				return []*flowtest.Builder{a, s1, ok}
			},
			count: 1, startsAt: 1100 * time.Millisecond, wantWords: "left unanswered",
		},
		{
			name: "still down when the capture ends",
			build: func() []*flowtest.Builder {
				a := served(0, 40000)
				r1 := flowtest.New(t0.Add(1100*time.Millisecond), proxy(40002), backend).SYN().Refuse()
				return []*flowtest.Builder{a, r1}
			},
			count: 1, open: true, startsAt: 1100 * time.Millisecond, wantWords: "end of the capture",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := kinds(collect(t, flowtest.Merge(tc.build()...)), findings.BackendDown)
			if len(fs) != 1 {
				t.Fatalf("- want: one backend_down\n-  got: %+v", fs)
			}
			f := fs[0]
			if f.Count != tc.count || f.Crash != tc.crash || f.End.IsZero() != tc.open || !f.Start.Equal(t0.Add(tc.startsAt)) {
				t.Errorf("- want: count %d crash %v open %v start %s\n-  got: count %d crash %v end %s start %s",
					tc.count, tc.crash, tc.open, t0.Add(tc.startsAt), f.Count, f.Crash, f.End, f.Start)
			}
			if !strings.Contains(f.Conclusion, tc.wantWords) {
				t.Errorf("- want: %q in\n-  got: %s", tc.wantWords, f.Conclusion)
			}
		})
	}
}

func TestStaleNotDown(t *testing.T) {
	r1 := flowtest.New(t0, proxy(40002), backend).SYN().Refuse()
	r2 := flowtest.New(t0.Add(time.Second), proxy(40003), backend).SYN().Refuse()
	fs := collect(t, flowtest.Merge(r1, r2))
	if len(kinds(fs, findings.BackendDown)) != 0 || len(kinds(fs, findings.StaleUpstream)) != 1 || kinds(fs, findings.StaleUpstream)[0].Count != 2 {
		t.Errorf("- want: one stale_upstream of 2 connects\n-  got: %+v", fs)
	}
}

func TestWriteTimeoutNeedsAConstantDelay(t *testing.T) {
	tests := []struct {
		name   string
		delays []time.Duration
		want   time.Duration // 0: no finding
	}{
		{"constant 2 s", []time.Duration{2 * time.Second, 2*time.Second + 3*time.Millisecond, 2*time.Second - 2*time.Millisecond}, 2 * time.Second},
		{"scattered", []time.Duration{300 * time.Millisecond, 900 * time.Millisecond, 2 * time.Second}, 0},
		{"one close is not a pattern", []time.Duration{2 * time.Second}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var bs []*flowtest.Builder
			for i, d := range tc.delays {
				b := flowtest.New(t0.Add(time.Duration(i)*5*time.Second), proxy(uint16(41000+i)), backend)
				b.SYN().SYNACK().ACK(flows.Client).Data(flows.ClientToServer, "GET /slow HTTP/1.1\r\n\r\n")
				b.At(d).FIN(flows.Server).FIN(flows.Client)
				bs = append(bs, b)
			}
			fs := kinds(collect(t, flowtest.Merge(bs...)), findings.WriteTimeout)
			switch {
			case tc.want == 0 && len(fs) != 0:
				t.Errorf("- want: none\n-  got: %s", fs[0].Conclusion)
			case tc.want != 0 && (len(fs) != 1 || (fs[0].WriteTimeout-tc.want).Abs() > 5*time.Millisecond):
				t.Errorf("- want: write_timeout %s\n-  got: %+v", tc.want, fs)
			}
		})
	}
}
