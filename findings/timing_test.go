package findings_test

import (
	"net/netip"
	"testing"
	"time"

	"why502/findings"
	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

// TestDecisionTiming checks the Pipeline's default timing: a 5xx is
// decided DefaultHold after it was sent, once the failed upstream
// connection is done (DefaultLinger after its last packet), and packets
// of that connection arriving after its linger (a retransmitted RST, a
// late ACK) change nothing.
func TestDecisionTiming(t *testing.T) {
	client := netip.MustParseAddrPort("192.0.2.10:50000")
	front := proxy(80)
	tests := []struct {
		name string
		// fail ends the upstream exchange after the request, then adds
		// what comes after the linger.
		fail func(up *flowtest.Builder)
		want httpmatch.Cause
	}{
		{
			name: "reset, the RST retransmitted after the linger",
			fail: func(up *flowtest.Builder) {
				up.At(9 * time.Millisecond).RST(flows.Server)
				up.At(2 * findings.DefaultLinger).RST(flows.Server)
			},
			want: httpmatch.UpstreamReset,
		},
		{
			name: "closed before answering, a late ACK after the linger",
			fail: func(up *flowtest.Builder) {
				up.At(9 * time.Millisecond).FIN(flows.Server).FIN(flows.Client).ACK(flows.Server)
				up.At(2 * findings.DefaultLinger).ACK(flows.Server)
			},
			want: httpmatch.UpstreamClosed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr := flowtest.New(t0, client, front)
			fr.SYN().SYNACK().ACK(flows.Client)
			fr.At(time.Millisecond).Data(flows.ClientToServer, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			up := flowtest.New(t0.Add(2*time.Millisecond), proxy(40000), backend)
			up.SYN().SYNACK().ACK(flows.Client)
			up.Data(flows.ClientToServer, "GET /x HTTP/1.0\r\nHost: a\r\n\r\n")
			tc.fail(up)
			sent := t0.Add(12 * time.Millisecond)
			fr.At(sent.Sub(fr.Now())).Data(flows.ServerToClient, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			fr.At(findings.DefaultHold + 500*time.Millisecond).FIN(flows.Client).FIN(flows.Server).ACK(flows.Client)

			var got []httpmatch.Incident
			var decidedBy time.Time
			pl := findings.NewPipeline(findings.PipelineOptions{
				Analyze: httpmatch.AnalyzeOptions{Front: []netip.AddrPort{front}},
			}, func(in httpmatch.Incident) { got = append(got, in) })
			pkts := flowtest.Merge(fr, up)
			for i := range pkts {
				pl.Add(&pkts[i])
				if len(got) > 0 && decidedBy.IsZero() {
					decidedBy = pkts[i].Time
				}
			}
			pl.Flush()
			if len(got) != 1 || got[0].Cause != tc.want || got[0].Status != 502 {
				t.Fatalf("- want: one 502 with cause %s\n-  got: %+v", tc.want, got)
			}
			// The decision came with the first packet after the 5xx's
			// Hold (the front's FIN), not at the end of the input.
			switch {
			case decidedBy.IsZero():
				t.Errorf("decided only at the end of the input; want with the first packet %v after the 5xx", findings.DefaultHold)
			case decidedBy.Sub(sent) > findings.DefaultHold+500*time.Millisecond:
				t.Errorf("decided %v after the 5xx; want with the first packet after %v", decidedBy.Sub(sent), findings.DefaultHold)
			}
			if st := pl.Tracker.Stats(); st.Conns != 3 {
				t.Errorf("connections: want 3 (front, upstream, the late packet's own), got %d", st.Conns)
			}
		})
	}
}
