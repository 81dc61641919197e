package flows_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

// brief describes finished connections compactly for want/got messages.
func brief(cs []*flows.Conn) string {
	s := ""
	for _, c := range cs {
		s += fmt.Sprintf("#%d %d %s", c.ID, c.Client.Port(), c.State())
		switch {
		case c.Shed:
			s += " shed"
		case c.Expired:
			s += " expired"
		case c.Unfinished:
			s += " open"
		}
		s += "; "
	}
	return s
}

func TestLifecycle(t *testing.T) {
	ms := time.Millisecond
	closed := func(b *flowtest.Builder) *flowtest.Builder {
		return b.Data(c2s, req).Data(s2c, resp).FIN(flows.Client).FIN(flows.Server).ACK(flows.Client)
	}
	tests := []struct {
		name  string
		opts  flows.Options
		pkts  func() []capture.Packet
		want  string
		stats flows.Stats // only the counters set here are compared
	}{
		{
			name: "late ACK absorbed while lingering",
			pkts: func() []capture.Packet {
				b := closed(established())
				return b.At(time.Second).ACK(flows.Client).Packets()
			},
			want:  "#1 40000 SF; ",
			stats: flows.Stats{Conns: 1},
		},
		{
			name: "packet after the linger starts a mid-stream connection",
			pkts: func() []capture.Packet {
				b := closed(established())
				return b.At(3 * time.Second).ACK(flows.Client).Packets()
			},
			want:  "#1 40000 SF; #2 40000 OTH open; ",
			stats: flows.Stats{Conns: 2},
		},
		{
			name: "retransmitted RST after RST",
			pkts: func() []capture.Packet {
				b := established().Data(c2s, req).RST(flows.Server)
				return b.At(ms).RST(flows.Server).Packets()
			},
			want:  "#1 40000 RSTR; ",
			stats: flows.Stats{Conns: 1},
		},
		{
			name: "port reuse: new SYN while lingering",
			pkts: func() []capture.Packet {
				a := closed(established())
				b := flowtest.New(t0.Add(100*ms), client, server).ISN(777777, 888888)
				closed(b.SYN().SYNACK().ACK(flows.Client))
				return flowtest.Merge(a, b)
			},
			want:  "#1 40000 SF; #2 40000 SF; ",
			stats: flows.Stats{Conns: 2, Reused: 1},
		},
		{
			name: "port reuse after the linger: no reuse counted",
			pkts: func() []capture.Packet {
				a := closed(established())
				b := flowtest.New(t0.Add(10*time.Second), client, server).ISN(777777, 888888)
				closed(b.SYN().SYNACK().ACK(flows.Client))
				return flowtest.Merge(a, b)
			},
			want:  "#1 40000 SF; #2 40000 SF; ",
			stats: flows.Stats{Conns: 2},
		},
		{
			name: "the same ports from two client addresses, interleaved",
			pkts: func() []capture.Packet {
				a := closed(established())
				b := flowtest.New(t0.Add(ms/2), addr("10.0.0.2:40000"), server)
				closed(b.SYN().At(ms).SYNACK().At(ms).ACK(flows.Client))
				return flowtest.Merge(a, b)
			},
			want:  "#1 40000 SF; #2 40000 SF; ",
			stats: flows.Stats{Conns: 2},
		},
		{
			name: "SYN retransmission is not reuse",
			pkts: func() []capture.Packet {
				return newConn().SYN().At(time.Second).SYN().SYNACK().ACK(flows.Client).Packets()
			},
			want:  "#1 40000 S1 open; ",
			stats: flows.Stats{Conns: 1},
		},
		{
			name: "idle expiry",
			opts: flows.Options{IdleTimeout: time.Minute},
			pkts: func() []capture.Packet {
				a := established().Data(c2s, req)
				b := flowtest.New(t0.Add(2*time.Minute), addr("10.0.0.2:40001"), server).SYN()
				return flowtest.Merge(a, b)
			},
			want:  "#1 40000 S1 expired; #2 40001 S0 open; ",
			stats: flows.Stats{Conns: 2, Expired: 1},
		},
		{
			name: "MaxConns sheds the least recently active",
			opts: flows.Options{MaxConns: 2},
			pkts: func() []capture.Packet {
				var bs []*flowtest.Builder
				for i := range 3 {
					bs = append(bs, flowtest.New(t0.Add(time.Duration(i)*ms), port(40000+i), server).SYN())
				}
				bs[0].At(1500 * time.Microsecond).SYN() // #1 active again: #2 is the oldest when #3 comes
				return flowtest.Merge(bs...)
			},
			want:  "#2 40001 S0 shed; #1 40000 S0 open; #3 40002 S0 open; ",
			stats: flows.Stats{Conns: 3, Shed: 1},
		},
		{
			name: "MaxConns finishes a lingering connection first",
			opts: flows.Options{MaxConns: 2},
			pkts: func() []capture.Packet {
				a := closed(established())
				b := flowtest.New(t0.Add(100*ms), port(40001), server).SYN()
				c := flowtest.New(t0.Add(200*ms), port(40002), server).SYN()
				return flowtest.Merge(a, b, c)
			},
			want:  "#1 40000 SF; #2 40001 S0 open; #3 40002 S0 open; ",
			stats: flows.Stats{Conns: 3},
		},
		{
			name: "done order is finish order by default",
			pkts: func() []capture.Packet {
				a := established().Data(c2s, req)
				b := flowtest.New(t0.Add(ms), port(40001), server)
				closed(b.SYN().SYNACK().ACK(flows.Client))
				return append(flowtest.Merge(a, b), flowtest.New(t0.Add(time.Minute), port(40002), server).SYN().Packets()...)
			},
			want: "#2 40001 SF; #1 40000 S1 open; #3 40002 S0 open; ",
		},
		{
			name: "StartOrder holds later connections",
			opts: flows.Options{StartOrder: true},
			pkts: func() []capture.Packet {
				a := established().Data(c2s, req)
				b := flowtest.New(t0.Add(ms), port(40001), server)
				closed(b.SYN().SYNACK().ACK(flows.Client))
				return append(flowtest.Merge(a, b), flowtest.New(t0.Add(time.Minute), port(40002), server).SYN().Packets()...)
			},
			want: "#1 40000 S1 open; #2 40001 SF; #3 40002 S0 open; ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, st := run(tc.opts, tc.pkts())
			if got := brief(r.done); got != tc.want {
				t.Errorf("unexpected connections:\n- want: %s\n-  got: %s", tc.want, got)
			}
			got := flows.Stats{Conns: st.Conns, Shed: st.Shed, Expired: st.Expired, Reused: st.Reused}
			want := flows.Stats{Conns: tc.stats.Conns, Shed: tc.stats.Shed, Expired: tc.stats.Expired, Reused: tc.stats.Reused}
			if tc.stats != (flows.Stats{}) && got != want {
				t.Errorf("unexpected stats:\n- want: %+v\n-  got: %+v", want, got)
			}
		})
	}
}

func port(p int) netip.AddrPort { return netip.AddrPortFrom(client.Addr(), uint16(p)) }

// StartOrder must deliver every ID exactly once, in order, whatever the
// finishing order.
func TestStartOrderMany(t *testing.T) {
	var bs []*flowtest.Builder
	for i := range 50 {
		b := flowtest.New(t0.Add(time.Duration(i)*time.Millisecond), port(20000+i), server)
		b.SYN().SYNACK().ACK(flows.Client)
		b.At(time.Duration(50-i) * time.Second).RST(flows.Client) // later starters finish first
		bs = append(bs, b)
	}
	r, _ := run(flows.Options{StartOrder: true}, flowtest.Merge(bs...))
	for i, c := range r.done {
		if c.ID != uint64(i+1) {
			t.Fatalf("unexpected order at %d:\n- want: ID %d\n-  got: ID %d", i, i+1, c.ID)
		}
	}
	if len(r.done) != 50 {
		t.Fatalf("- want: 50 connections\n-  got: %d", len(r.done))
	}
}

// startRecorder also implements flows.Starter, and notes how each live
// connection looked when the next packet came.
type startRecorder struct {
	recorder
	started []*flows.Conn
	atStart []flows.Handshake
}

func (r *startRecorder) Start(c *flows.Conn) {
	r.started = append(r.started, c)
	r.atStart = append(r.atStart, c.Handshake)
}

func TestStarter(t *testing.T) {
	tests := []struct {
		name      string
		b         *flowtest.Builder
		atStart   flows.Handshake
		liveSYNs  int // SYNs seen on the live connection before Done
		handshake flows.Handshake
	}{
		{"unanswered, retransmitted", newConn().SYN().At(time.Second).SYN().At(2 * time.Second).SYN(), flows.Unanswered, 3, flows.Unanswered},
		{"refused", newConn().SYN().Refuse(), flows.Unanswered, 1, flows.Refused},
		{"established", established(), flows.Unanswered, 1, flows.Established},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &startRecorder{}
			tr := flows.New(flows.Options{}, r)
			flowtest.Feed(tr, tc.b.Packets())
			if len(r.started) != 1 || len(r.done) != 0 {
				t.Fatalf("before Flush: %d started, %d done\n- want: 1 started, 0 done", len(r.started), len(r.done))
			}
			live := r.started[0]
			if r.atStart[0] != tc.atStart || live.SYNs != tc.liveSYNs || live.Handshake != tc.handshake {
				t.Errorf("live connection\n- want: started %v, %d SYNs, now %v\n-  got: started %v, %d SYNs, now %v",
					tc.atStart, tc.liveSYNs, tc.handshake, r.atStart[0], live.SYNs, live.Handshake)
			}
			tr.Flush()
			if len(r.done) != 1 || r.done[0].ID != live.ID {
				t.Errorf("Done: %d connections, want the started one", len(r.done))
			}
		})
	}
}
