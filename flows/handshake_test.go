package flows_test

import (
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

func TestHandshake(t *testing.T) {
	tests := []struct {
		name    string
		b       *flowtest.Builder
		hs      flows.Handshake
		syns    int
		span    time.Duration
		rtt     time.Duration
		synack  int64 // frame
		client  string
		summary string
	}{
		{
			name: "established",
			b:    established(),
			hs:   flows.Established, syns: 1, rtt: time.Millisecond, synack: 2, client: "10.0.0.1:40000",
			summary: "connection still open at the end of the capture",
		},
		{
			name: "refused with RST+ACK",
			b:    newConn().SYN().At(300 * time.Microsecond).Refuse(),
			hs:   flows.Refused, syns: 1, rtt: 300 * time.Microsecond, synack: 2, client: "10.0.0.1:40000",
			summary: "SYN refused by 10.0.0.7:8080: nothing listening",
		},
		{
			name: "refused with bare RST",
			b: newConn().SYN().At(time.Millisecond).
				Raw(s2c, capture.RST, 0, 0, "", 0),
			hs: flows.Refused, syns: 1, rtt: time.Millisecond, synack: 2, client: "10.0.0.1:40000",
			summary: "SYN refused by 10.0.0.7:8080: nothing listening",
		},
		{
			name: "unanswered, retransmitted",
			b: newConn().SYN().At(time.Second + 5*time.Millisecond).SYN().
				At(2 * time.Second).SYN().At(4 * time.Second).SYN(),
			hs: flows.Unanswered, syns: 4, span: 7005 * time.Millisecond, client: "10.0.0.1:40000",
			summary: "SYN to 10.0.0.7:8080 never answered: 4 SYNs over 7.00 s",
		},
		{
			name: "unanswered once",
			b:    newConn().SYN(),
			hs:   flows.Unanswered, syns: 1, client: "10.0.0.1:40000",
			summary: "SYN to 10.0.0.7:8080 never answered: 1 SYN",
		},
		{
			name: "SYN retransmitted then answered",
			b:    newConn().SYN().At(time.Second).SYN().At(2 * time.Millisecond).SYNACK(),
			hs:   flows.Established, syns: 2, span: time.Second, rtt: 2 * time.Millisecond, synack: 3, client: "10.0.0.1:40000",
			summary: "connection still open at the end of the capture",
		},
		{
			name: "SYN-ACK missing from the capture",
			b: func() *flowtest.Builder {
				b := newConn().SYN()
				b.SYNACK()
				b.ACK(flows.Client).Data(c2s, "GET / HTTP/1.1\r\n\r\n")
				pk := b.Packets()
				return flowtest.New(t0, client, server).Raw(c2s, pk[0].Flags, pk[0].Seq, 0, "", 0).
					Raw(c2s, pk[2].Flags, pk[2].Seq, pk[2].Ack, "", 0)
			}(),
			hs: flows.Established, syns: 1, client: "10.0.0.1:40000",
			summary: "connection still open at the end of the capture",
		},
		{
			name: "midstream: server data first, client has the high port",
			b:    newConn().Data(s2c, "HTTP/1.1 200 OK\r\n\r\n"),
			hs:   flows.Midstream, client: "10.0.0.1:40000",
			summary: "capture began mid-connection",
		},
		{
			name: "midstream: SYN-ACK first",
			b:    newConn().SYNACK().ACK(flows.Client),
			hs:   flows.Midstream, synack: 1, client: "10.0.0.1:40000",
			summary: "capture began mid-connection",
		},
		{
			name: "midstream: well-known port is the server",
			b: flowtest.New(t0, addr("10.0.0.7:80"), addr("10.0.0.1:40000")).
				Data(c2s, "HTTP/1.1 200 OK\r\n\r\n"),
			hs: flows.Midstream, client: "10.0.0.1:40000",
			summary: "capture began mid-connection",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := one(flows.Options{}, tc.b.Packets())
			got := struct {
				HS      flows.Handshake
				SYNs    int
				Span    time.Duration
				RTT     time.Duration
				SYNACK  int64
				Client  string
				Summary string
			}{c.Handshake, c.SYNs, c.SYNSpan, c.RTT, c.SYNACK.Frame, c.Client.String(), c.Summary()}
			want := got
			want.HS, want.SYNs, want.Span, want.RTT, want.SYNACK, want.Client, want.Summary =
				tc.hs, tc.syns, tc.span, tc.rtt, tc.synack, tc.client, tc.summary
			if got != want {
				t.Fatalf("unexpected connection:\n- want: %+v\n-  got: %+v", want, got)
			}
		})
	}
}
