package httpmatch_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

// runShed runs the analyzer on pkts with the tracker's cap maxConns and
// returns the incidents and the counts.
func runShed(t *testing.T, opts httpmatch.AnalyzeOptions, maxConns int, pkts []capture.Packet) ([]httpmatch.Incident, httpmatch.AnalyzeStats) {
	t.Helper()
	var got []httpmatch.Incident
	a := httpmatch.NewAnalyzer(opts, func(in httpmatch.Incident) { got = append(got, in) })
	tr := flows.New(flows.Options{WantData: true, MaxConns: maxConns}, a)
	for i := range pkts {
		tr.Add(&pkts[i])
		a.Advance(pkts[i].Time)
	}
	tr.Flush()
	a.Flush()
	return got, a.Stats()
}

// synFrom is a SYN from the i-th address of a flood to server at t,
// refused or left unanswered.
func synFrom(t time.Time, i int, server netip.AddrPort, refused bool) *flowtest.Builder {
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 30000)
	b := flowtest.New(t, src, server).SYN()
	if refused {
		b.Refuse()
	}
	return b
}

// TestShedAttempts: under a flood of SYNs the analyzer keeps connect
// attempts within its cap, the proxy's own last (issue 8), counts what it
// shed, and says so on an incident that may have lost its attempt.
func TestShedAttempts(t *testing.T) {
	start := at0.Add(time.Second)
	tests := []struct {
		name     string
		opts     httpmatch.AnalyzeOptions
		maxConns int
		builders func() []*flowtest.Builder
		want     httpmatch.Cause
		// missing: the prefix of the only phrase of Missing; "": none.
		missing string
		// shed, notUpstream: the counts wanted; -1: at least one.
		shed, notUpstream int64
	}{
		{"SYN flood on the front: shed, no incident marked", httpmatch.AnalyzeOptions{}, 16, func() []*flowtest.Builder {
			wf, wu := warmup()
			bs := []*flowtest.Builder{wf, wu}
			// 10 SYNs while the request waits: they are shed, not it.
			for i := range 100 {
				bs = append(bs, synFrom(start.Add(time.Duration(i)*100*time.Microsecond), i, proxy, false))
			}
			f := frontExchange(start.Add(5*time.Millisecond), 50001, "GET", "/x", 502, time.Millisecond)
			return append(bs, f, refusedAt(start.Add(5100*time.Microsecond), 40001, other))
		}, httpmatch.ConnectRefused, "", -1, -1},
		{"scan refused elsewhere: the proxy's own attempt outlives the cap", httpmatch.AnalyzeOptions{MaxAttempts: 8}, 0, func() []*flowtest.Builder {
			wf, wu := warmup()
			bs := []*flowtest.Builder{wf, wu}
			for i := range 100 {
				bs = append(bs, synFrom(start.Add(time.Duration(i)*100*time.Microsecond), i, third, true))
			}
			f := frontExchange(start.Add(time.Millisecond), 50001, "GET", "/x", 502, 10*time.Millisecond)
			return append(bs, f, refusedAt(start.Add(1100*time.Microsecond), 40001, other))
		}, httpmatch.ConnectRefused, "", -1, 0},
		{"attempt of unknown role shed while the request waited", httpmatch.AnalyzeOptions{}, 2, func() []*flowtest.Builder {
			f := flowtest.New(start, netip.AddrPortFrom(client.Addr(), 50001), proxy)
			f.SYN().SYNACK().ACK(flows.Client).Data(c2s, request("GET", "/x"))
			u := flowtest.New(start.Add(100*time.Microsecond), netip.AddrPortFrom(proxy.Addr(), 40001), backend).SYN()
			// The front stays busier than the attempt, which is then the
			// connection idle longest when another one comes.
			f.At(time.Millisecond).ACK(flows.Client)
			s := synFrom(start.Add(2*time.Millisecond), 1, third, false)
			f.At(3*time.Millisecond).Data(s2c, response(502))
			return []*flowtest.Builder{f, u, s}
		}, httpmatch.NoUpstream, "1 connect attempt that started during the request shed at --max-conns", 1, 0},
		{"front connection shed before the 5xx", httpmatch.AnalyzeOptions{Front: []netip.AddrPort{proxy}}, 2, func() []*flowtest.Builder {
			f := flowtest.New(start, netip.AddrPortFrom(client.Addr(), 50001), proxy)
			f.SYN().SYNACK().ACK(flows.Client).Data(c2s, request("GET", "/x"))
			s1 := synFrom(start.Add(time.Millisecond), 1, third, false)
			s2 := synFrom(start.Add(2*time.Millisecond), 2, third, false)
			f.At(3*time.Millisecond).Data(s2c, response(502))
			return []*flowtest.Builder{f, s1, s2}
		}, httpmatch.Unknown, "front connection 10.1.2.3:50001 -> 10.0.0.1:80 shed at --max-conns before the response", -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			incidents, st := runShed(t, tc.opts, tc.maxConns, flowtest.Merge(tc.builders()...))
			if len(incidents) != 1 {
				t.Fatalf("incidents\n- want: 1\n-  got: %q", describeAll(incidents))
			}
			in := incidents[0]
			if in.Cause != tc.want {
				t.Errorf("cause\n- want: %s\n-  got: %s (%s)", tc.want, in.Cause, in.Explanation)
			}
			switch {
			case tc.missing == "" && in.Missing != nil:
				t.Errorf("missing\n- want: none\n-  got: %q", in.Missing)
			case tc.missing != "" && (len(in.Missing) != 1 || !strings.HasPrefix(in.Missing[0], tc.missing)):
				t.Errorf("missing\n- want: %q...\n-  got: %q", tc.missing, in.Missing)
			case tc.missing != "" && !strings.HasSuffix(in.Explanation, "a run with a larger --max-conns would decide it"):
				t.Errorf("explanation\n- want: ending with the run that would decide it\n-  got: %s", in.Explanation)
			}
			for _, c := range []struct {
				what      string
				want, got int64
			}{{"shed", tc.shed, st.ShedAttempts}, {"not upstream", tc.notUpstream, st.ShedNotUpstream}} {
				if c.want < 0 && c.got < 1 || c.want >= 0 && c.got != c.want {
					t.Errorf("%s attempts\n- want: %d (-1: some)\n-  got: %d", c.what, c.want, c.got)
				}
			}
		})
	}
}
