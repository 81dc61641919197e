package httpmatch_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

// TestIncompleteEvidence: an incident whose evidence has a hole says so
// (Inferred, Missing, the explanation's end) instead of guessing silently;
// one without keeps its verdict as it was (issue 8 item 4).
func TestIncompleteEvidence(t *testing.T) {
	start := at0.Add(time.Second)
	up := start.Add(100 * time.Microsecond)
	fixed := httpmatch.AnalyzeOptions{
		Front:    []netip.AddrPort{proxy},
		Upstream: []httpmatch.Endpoint{{Net: netip.PrefixFrom(backend.Addr(), 32), Port: backend.Port()}},
	}
	tests := []struct {
		name     string
		maxConns int
		builders func() []*flowtest.Builder
		want     httpmatch.Cause
		// missing: each phrase must begin one of Missing, in order; nil:
		// complete evidence, not inferred.
		missing []string
		// decide: the explanation must end with this.
		decide string
	}{
		{"complete evidence: unchanged", 0, func() []*flowtest.Builder {
			f := frontExchange(start, 50001, "GET", "/x", 502, 2*time.Millisecond)
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x")).At(time.Millisecond).RST(flows.Server)
			return []*flowtest.Builder{f, u}
		}, httpmatch.UpstreamReset, nil, ""},
		{"gap in the upstream response", 0, func() []*flowtest.Builder {
			f := frontExchange(start, 50001, "GET", "/x", 502, 3*time.Millisecond)
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x"))
			u.At(time.Millisecond).Lose(s2c, 1448).Data(s2c, "ody of the answer").At(time.Millisecond).FIN(flows.Server)
			return []*flowtest.Builder{f, u}
		}, httpmatch.UpstreamClosed, []string{"gap of 1448 bytes in the upstream response (frame "},
			"a capture without drops (a bigger -B buffer, a narrower filter, writing to a local disk) would decide it"},
		{"snaplen cut the front status line", 0, func() []*flowtest.Builder {
			f := flowtest.New(start, netip.AddrPortFrom(client.Addr(), 50001), proxy)
			f.SYN().SYNACK().ACK(flows.Client).Data(c2s, request("GET", "/x"))
			f.At(2*time.Millisecond).Cut(s2c, response(502), len("HTTP/1.1 502"))
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x")).At(time.Millisecond).RST(flows.Server)
			return []*flowtest.Builder{f, u}
		}, httpmatch.UpstreamReset, []string{"status line of the front response cut by the capture's snapshot length (frame "},
			"a capture at full length (tcpdump -s 0) would decide it"},
		{"upstream connection shed at --max-conns", 2, func() []*flowtest.Builder {
			f := flowtest.New(start, netip.AddrPortFrom(client.Addr(), 50001), proxy)
			f.SYN().SYNACK().ACK(flows.Client).Data(c2s, request("GET", "/x"))
			u := upConn(up, 40001, backend).Data(c2s, request("GET", "/x"))
			// The front stays busier than the upstream attempt, which is
			// then the connection idle longest when a third one comes.
			f.At(time.Millisecond).ACK(flows.Client)
			s := flowtest.New(start.Add(2*time.Millisecond), netip.AddrPortFrom(client.Addr(), 50002), third).SYN()
			f.At(3*time.Millisecond).Data(s2c, response(502))
			return []*flowtest.Builder{f, u, s}
		}, httpmatch.Unknown, []string{"upstream connection 10.0.0.1:40001 -> 10.0.0.7:8080 shed at --max-conns"},
			"a run with a larger --max-conns would decide it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			incidents, _ := runAnalyzerWith(t, fixed, flows.Options{WantData: true, MaxConns: tc.maxConns}, flowtest.Merge(tc.builders()...))
			if len(incidents) != 1 {
				t.Fatalf("incidents\n- want: 1\n-  got: %d: %+v", len(incidents), incidents)
			}
			in := incidents[0]
			if in.Cause != tc.want {
				t.Errorf("cause\n- want: %s\n-  got: %s (%s)", tc.want, in.Cause, in.Explanation)
			}
			if tc.missing == nil {
				if in.Inferred || in.Missing != nil {
					t.Errorf("complete evidence\n- want: not inferred, no missing\n-  got: inferred %v, missing %q", in.Inferred, in.Missing)
				}
				return
			}
			if !in.Inferred {
				t.Errorf("inferred\n- want: true\n-  got: false")
			}
			if len(in.Missing) != len(tc.missing) {
				t.Fatalf("missing\n- want: %q\n-  got: %q", tc.missing, in.Missing)
			}
			for i, m := range tc.missing {
				if !strings.HasPrefix(in.Missing[i], m) {
					t.Errorf("missing[%d]\n- want: %q...\n-  got: %q", i, m, in.Missing[i])
				}
			}
			if !strings.HasSuffix(in.Explanation, tc.decide) {
				t.Errorf("explanation\n- want: ending %q\n-  got: %q", tc.decide, in.Explanation)
			}
		})
	}
}

// TestResponseWithoutRequest: a 5xx on a front connection whose request
// came before the capture began is counted and reported, cause unknown.
func TestResponseWithoutRequest(t *testing.T) {
	start := at0.Add(time.Second)
	// No SYN: the capture began mid-connection, after the request.
	f := flowtest.New(start, netip.AddrPortFrom(client.Addr(), 50001), proxy).Data(s2c, response(502))
	var got []httpmatch.Incident
	a := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{Front: []netip.AddrPort{proxy}}, func(in httpmatch.Incident) { got = append(got, in) })
	pkts := f.Packets()
	tr := flows.New(flows.Options{WantData: true}, a)
	for i := range pkts {
		tr.Add(&pkts[i])
		a.Advance(pkts[i].Time)
	}
	tr.Flush()
	a.Flush()
	if len(got) != 1 {
		t.Fatalf("incidents\n- want: 1\n-  got: %d", len(got))
	}
	in := got[0]
	want := []string{"request not in the capture (capture began mid-connection)"}
	if in.Status != 502 || in.Cause != httpmatch.Unknown || !in.Inferred || !reflect.DeepEqual(in.Missing, want) {
		t.Errorf("incident\n- want: 502 unknown inferred, missing %q\n-  got: %d %s inferred %v, missing %q", want, in.Status, in.Cause, in.Inferred, in.Missing)
	}
	if !strings.HasSuffix(in.Explanation, "a capture started before the client's connection opened would decide it") {
		t.Errorf("explanation\n- want: ending with the capture that would decide it\n-  got: %s", in.Explanation)
	}
	st := a.Stats()
	if st.Responses5xx != 1 || st.WithoutRequest != 1 || st.ByCause[httpmatch.Unknown] != 1 {
		t.Errorf("stats\n- want: 1 5xx, 1 without request, 1 unknown\n-  got: %+v", st)
	}
}

func runAnalyzerWith(t *testing.T, opts httpmatch.AnalyzeOptions, fo flows.Options, pkts []capture.Packet) (incidents, hidden []httpmatch.Incident) {
	t.Helper()
	a := httpmatch.NewAnalyzer(opts, func(in httpmatch.Incident) {
		if in.Hidden {
			hidden = append(hidden, in)
		} else {
			incidents = append(incidents, in)
		}
	})
	tr := flows.New(fo, a)
	for i := range pkts {
		tr.Add(&pkts[i])
		a.Advance(pkts[i].Time)
	}
	tr.Flush()
	a.Flush()
	return incidents, hidden
}
