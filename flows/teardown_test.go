package flows_test

import (
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

const (
	req  = "POST /orders HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
	resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
)

func TestTeardown(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		b       *flowtest.Builder
		want    flows.Teardown // At and PeerAt are compared by frame only
		summary string
		state   string
	}{
		{
			name: "server FIN with the request outstanding",
			b: established().Data(c2s, req).At(ms).ACK(flows.Server).
				At(2 * time.Second).FIN(flows.Server).ACK(flows.Client).At(ms).FIN(flows.Client).ACK(flows.Server),
			want: flows.Teardown{By: flows.Server, Kind: flows.CloseFIN, At: flows.FrameRef{Frame: 6},
				SincePeerData: 2001 * ms, HasPeerData: true, PeerUnanswered: true,
				PeerKind: flows.CloseFIN, PeerAt: flows.FrameRef{Frame: 8}},
			summary: "server sent FIN 2.00 s after the request, before any response",
			state:   "SF",
		},
		{
			name: "server RST, request not even acknowledged",
			b:    established().Data(c2s, req).RST(flows.Server),
			want: flows.Teardown{By: flows.Server, Kind: flows.CloseRST, At: flows.FrameRef{Frame: 5},
				HasPeerData: true, PeerUnanswered: true, PeerUnacked: 0},
			summary: "server reset the connection 0.00 s after the request, before any response",
			state:   "RSTR",
		},
		{
			name: "server RST without acknowledging the request",
			b: established().Data(c2s, req).
				AckTo(flows.Server, 0).RST(flows.Server),
			want: flows.Teardown{By: flows.Server, Kind: flows.CloseRST, At: flows.FrameRef{Frame: 6},
				HasPeerData: true, PeerUnanswered: true, PeerUnacked: 0},
			summary: "server reset the connection 0.00 s after the request, before any response",
			state:   "RSTR",
		},
		{
			name: "client closes after the response",
			b: established().Data(c2s, req).At(10*ms).Data(s2c, resp).At(5 * ms).
				FIN(flows.Client).FIN(flows.Server).ACK(flows.Client),
			want: flows.Teardown{By: flows.Client, Kind: flows.CloseFIN, At: flows.FrameRef{Frame: 6},
				SinceOwnData: 15 * ms, HasOwnData: true, SincePeerData: 5 * ms, HasPeerData: true,
				PeerUnanswered: true, PeerKind: flows.CloseFIN, PeerAt: flows.FrameRef{Frame: 7}},
			summary: "client closed 0.01 s after the response",
			state:   "SF",
		},
		{
			name: "server closes right after its response (Connection: close)",
			b: established().Data(c2s, req).At(ms).Data(s2c, resp).
				FIN(flows.Server).ACK(flows.Client).FIN(flows.Client),
			want: flows.Teardown{By: flows.Server, Kind: flows.CloseFIN, At: flows.FrameRef{Frame: 6},
				HasOwnData: true, SincePeerData: ms, HasPeerData: true,
				PeerKind: flows.CloseFIN, PeerAt: flows.FrameRef{Frame: 8}},
			summary: "server closed 0.00 s after its response",
			state:   "SF",
		},
		{
			name: "server FIN on a reused connection, second request unanswered",
			b: established().Data(c2s, req).Data(s2c, resp).At(ms).Data(c2s, req).
				At(2 * time.Second).FIN(flows.Server),
			want: flows.Teardown{By: flows.Server, Kind: flows.CloseFIN, At: flows.FrameRef{Frame: 7},
				SinceOwnData: 2001 * ms, HasOwnData: true, SincePeerData: 2 * time.Second, HasPeerData: true,
				PeerUnanswered: true},
			summary: "server sent FIN 2.00 s after the last request, before responding to it",
			state:   "S3",
		},
		{
			name: "client gives up waiting (proxy read timeout)",
			b:    established().Data(c2s, req).At(60 * time.Second).FIN(flows.Client),
			want: flows.Teardown{By: flows.Client, Kind: flows.CloseFIN, At: flows.FrameRef{Frame: 5},
				SinceOwnData: 60 * time.Second, HasOwnData: true},
			summary: "client sent FIN 60.00 s after the request, before any response",
			state:   "S2",
		},
		{
			name: "server closes the idle connection",
			b: established().Data(c2s, req).Data(s2c, resp).ACK(flows.Client).
				At(time.Second).FIN(flows.Server).FIN(flows.Client),
			want: flows.Teardown{By: flows.Server, Kind: flows.CloseFIN, At: flows.FrameRef{Frame: 7},
				SinceOwnData: time.Second, HasOwnData: true, SincePeerData: time.Second, HasPeerData: true,
				PeerKind: flows.CloseFIN, PeerAt: flows.FrameRef{Frame: 8}},
			summary: "server closed the idle connection after 1.00 s",
			state:   "SF",
		},
		{
			name: "keep-alive race: request crosses the server's FIN, then RST",
			b: established().Data(c2s, req).Data(s2c, resp).ACK(flows.Client).
				At(time.Second).FIN(flows.Server).At(ms).Data(c2s, req).RST(flows.Server),
			want: flows.Teardown{By: flows.Server, Kind: flows.CloseFIN, At: flows.FrameRef{Frame: 7},
				SinceOwnData: time.Second, HasOwnData: true, SincePeerData: time.Second, HasPeerData: true},
			summary: "server closed the idle connection after 1.00 s; the client sent data 0.00 s later and the server reset",
			state:   "RSTR",
		},
		{
			name: "peer data unacknowledged at the close",
			b: func() *flowtest.Builder {
				b := established().Data(s2c, resp).Data(s2c, resp).AckTo(flows.Client, int64(len(resp)))
				// A RST without ACK: its own acknowledgement cannot count.
				return b.Raw(c2s, capture.RST, b.Seq(c2s, 0), 0, "", 0)
			}(),
			want: flows.Teardown{By: flows.Client, Kind: flows.CloseRST, At: flows.FrameRef{Frame: 7},
				HasPeerData: true, PeerUnanswered: true, PeerUnacked: int64(len(resp))},
			summary: "client reset 0.00 s after the response",
			state:   "RSTO",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := one(flows.Options{}, tc.b.Packets())
			got := c.Teardown
			got.At = flows.FrameRef{Frame: got.At.Frame}
			got.PeerAt = flows.FrameRef{Frame: got.PeerAt.Frame}
			if got != tc.want {
				t.Errorf("unexpected teardown:\n- want: %+v\n-  got: %+v", tc.want, got)
			}
			if s := c.Summary(); s != tc.summary {
				t.Errorf("unexpected summary:\n- want: %s\n-  got: %s", tc.summary, s)
			}
			if s := c.State(); s != tc.state {
				t.Errorf("unexpected state:\n- want: %s\n-  got: %s", tc.state, s)
			}
		})
	}
}

func TestTurns(t *testing.T) {
	b := established()
	b.Data(c2s, "GET /1").Data(c2s, " HTTP/1.1\r\n\r\n") // one turn in two segments
	b.At(10*time.Millisecond).Data(s2c, "HTTP/1.1 200 OK\r\n\r\n")
	b.At(3*time.Second).Data(c2s, "GET /2 HTTP/1.1\r\n\r\n")
	b.At(time.Millisecond).Segment(c2s, 0, "GET /1") // retransmission: no new turn
	b.At(5*time.Millisecond).Data(s2c, "HTTP/1.1 200 OK\r\n\r\n")
	b.At(time.Second).Data(c2s, "GET /3 HTTP/1.1\r\n\r\n")
	c, r := one(flows.Options{WantData: true}, b.Packets())
	got := [3]any{c.Turns, c.LastIdle, c.MaxIdle}
	want := [3]any{3, time.Second, 3 * time.Second}
	if got != want {
		t.Errorf("unexpected turns, last idle, max idle:\n- want: %v\n-  got: %v", want, got)
	}
	var idles []time.Duration
	for _, ch := range r.chunks {
		idles = append(idles, ch.Idle)
	}
	wantIdles := []time.Duration{0, 0, 10 * time.Millisecond, 3 * time.Second, 6 * time.Millisecond, time.Second}
	if !equal(idles, wantIdles) {
		t.Errorf("unexpected chunk idles:\n- want: %v\n-  got: %v", wantIdles, idles)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
