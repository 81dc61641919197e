package flows_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

// gapString renders gaps compactly for want/got messages: dir@offset+len,
// with "s" for snaplen and the frame that revealed it.
func gapString(gs []flows.Gap) string {
	var b strings.Builder
	for _, g := range gs {
		d := "c"
		if g.Dir == flows.ServerToClient {
			d = "s"
		}
		fmt.Fprintf(&b, "%s@%d+%d", d, g.Offset, g.Len)
		if g.Snaplen {
			b.WriteString("s")
		}
		fmt.Fprintf(&b, "#%d ", g.At.Frame)
	}
	return strings.TrimSpace(b.String())
}

func TestReassembly(t *testing.T) {
	tests := []struct {
		name      string
		b         *flowtest.Builder
		opts      flows.Options
		client    string // bytes delivered client to server
		gaps      string
		bytes     int64 // Bytes[ClientToServer]
		overflows int64
	}{
		{
			name:   "in order",
			b:      established().Data(c2s, "hello ").Data(c2s, "world"),
			client: "hello world", bytes: 11,
		},
		{
			name:   "retransmission",
			b:      established().Data(c2s, "hello ").Segment(c2s, 0, "hello ").Data(c2s, "world"),
			client: "hello world", bytes: 11,
		},
		{
			name: "reordered",
			b: established().Segment(c2s, 6, "world").Segment(c2s, 3, "lo ").
				Segment(c2s, 0, "hel"),
			client: "hello world", bytes: 11,
		},
		{
			name: "overlap: first seen bytes win, in order",
			b:    established().Data(c2s, "hello").Segment(c2s, 3, "LO world"),
			// "lo" was seen first; only " world" is new.
			client: "hello world", bytes: 11,
		},
		{
			name: "overlap: first seen bytes win, out of order",
			b: established().Segment(c2s, 4, "o w").Segment(c2s, 6, "WORLD").
				Segment(c2s, 0, "hellXXXXorld"),
			client: "hello wORLDd", bytes: 12,
		},
		{
			name: "sequence wrap",
			b: newConn().ISN(0xfffffff0, 0xfffffffe).SYN().SYNACK().ACK(flows.Client).
				Data(c2s, "0123456789").Segment(c2s, 20, "klmnopqrst").Segment(c2s, 10, "abcdefghij"),
			client: "0123456789abcdefghijklmnopqrst", bytes: 30,
		},
		{
			name: "gap acked by peer",
			b: established().Data(c2s, "hello").Lose(c2s, 3).Data(c2s, "world").
				ACK(flows.Server),
			client: "helloworld", gaps: "c@5+3#6", bytes: 13,
		},
		{
			name: "lost bytes acked, never followed",
			b:    established().Data(c2s, "hello").Lose(c2s, 4).ACK(flows.Server),
			// Bytes counts what the ACK proves was sent.
			client: "hello", gaps: "c@5+4#5", bytes: 9,
		},
		{
			name: "hole settled at the end",
			b:    established().Data(c2s, "hello").Lose(c2s, 3).Data(c2s, "world"),
			// Frame 5 is the connection's last packet.
			client: "helloworld", gaps: "c@5+3#5", bytes: 13,
		},
		{
			name: "hole settled by RST",
			b: established().Data(c2s, "hello").Lose(c2s, 3).Data(c2s, "world").
				Lose(c2s, 2).RST(flows.Client),
			client: "helloworld", gaps: "c@5+3#6 c@13+2#6", bytes: 15,
		},
		{
			name: "FIN waits for a reordered segment",
			b: established().Segment(c2s, 5, "world").Lose(c2s, 0).FIN(flows.Client).
				Segment(c2s, 0, "hello"),
			client: "helloworld", bytes: 10,
		},
		{
			name:   "snaplen cut",
			b:      established().Cut(c2s, "hello world", 5).Data(c2s, "!"),
			client: "hello!", gaps: "c@5+6s#4", bytes: 12,
		},
		{
			name: "snaplen cut, out of order",
			b: established().Segment(c2s, 11, "!").Lose(c2s, -12).Cut(c2s, "hello world", 5).
				Lose(c2s, 1),
			client: "hello!", gaps: "c@5+6s#5", bytes: 12,
		},
		{
			// Fuzz crasher: a snaplen-cut retransmission whose captured
			// part ends before the delivered data while its wire length
			// reaches beyond it.
			name: "fuzz crasher: snaplen-cut retransmission reaching past the stream",
			b: func() *flowtest.Builder {
				b := established().Data(c2s, "hello world")
				return b.Raw(c2s, capture.PSH|capture.ACK, b.Seq(c2s, 0), b.Seq(s2c, 0), "hello", 13)
			}(),
			client: "hello world", gaps: "c@11+2s#5", bytes: 13,
		},
		{
			name: "buffer overflow declares the hole a gap",
			b: established().Lose(c2s, 2).Data(c2s, "abcd").Data(c2s, "efgh").
				Segment(c2s, 0, "XY"),
			opts:   flows.Options{MaxBuffer: 6},
			client: "abcdefgh", gaps: "c@0+2#5", bytes: 10, overflows: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.WantData = true
			r, st := run(opts, tc.b.Packets())
			if len(r.done) != 1 {
				t.Fatalf("- want: 1 connection\n-  got: %d", len(r.done))
			}
			c := r.done[0]
			if got := string(r.data[c2s]); got != tc.client {
				t.Errorf("unexpected client bytes:\n- want: %q\n-  got: %q", tc.client, got)
			}
			if got := gapString(r.gaps); got != tc.gaps {
				t.Errorf("unexpected gaps:\n- want: %s\n-  got: %s", tc.gaps, got)
			}
			if got := gapString(c.Gaps); got != tc.gaps {
				t.Errorf("unexpected Conn.Gaps:\n- want: %s\n-  got: %s", tc.gaps, got)
			}
			if got := c.Bytes[c2s]; got != tc.bytes {
				t.Errorf("unexpected Bytes:\n- want: %d\n-  got: %d", tc.bytes, got)
			}
			if got := int64(len(r.data[c2s])) + c.GapBytes[c2s]; got != c.Bytes[c2s] {
				t.Errorf("delivered + gap bytes != stream length:\n- want: %d\n-  got: %d", c.Bytes[c2s], got)
			}
			if st.Overflows != tc.overflows {
				t.Errorf("unexpected overflows:\n- want: %d\n-  got: %d", tc.overflows, st.Overflows)
			}

			// Sequence space alone must find the same gaps.
			opts.WantData = false
			r2, _ := run(opts, tc.b.Packets())
			if got, want := gapString(r2.gaps), gapString(r.gaps); got != want {
				t.Errorf("gaps without data differ:\n- want: %s\n-  got: %s", want, got)
			}
			if got, want := r2.done[0].Bytes, c.Bytes; got != want {
				t.Errorf("Bytes without data differ:\n- want: %v\n-  got: %v", want, got)
			}
		})
	}
}

func TestGapsKept(t *testing.T) {
	b := established()
	for range 20 {
		b.Data(c2s, "x").Lose(c2s, 1)
	}
	b.ACK(flows.Server)
	c, r := one(flows.Options{}, b.Packets())
	if got, want := len(c.Gaps), flows.MaxGapsKept; got != want {
		t.Errorf("unexpected kept gaps:\n- want: %d\n-  got: %d", want, got)
	}
	if got, want := c.GapCount, 20; got != want {
		t.Errorf("unexpected gap count:\n- want: %d\n-  got: %d", want, got)
	}
	if got, want := len(r.gaps), 20; got != want {
		t.Errorf("unexpected Handler.Gap calls:\n- want: %d\n-  got: %d", want, got)
	}
	if !slices.Equal(c.Gaps, r.gaps[:flows.MaxGapsKept]) {
		t.Errorf("Conn.Gaps are not the first gaps:\n- want: %s\n-  got: %s", gapString(r.gaps[:8]), gapString(c.Gaps))
	}
}
