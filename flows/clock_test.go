package flows_test

import (
	"fmt"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

// The tracker does its time arithmetic in nanoseconds since 1970, exact
// within 146 years of it, and in time.Time beyond: captures stamped far
// from 1970 (corrupt timestamps), or jumping there, must give the same
// connections as ordinary ones.
func TestFarCaptureTimes(t *testing.T) {
	const ms = time.Millisecond
	// Two turns 3 s apart on one connection; 10 minutes (and jump years)
	// later a second connection, which finds the first idle past
	// IdleTimeout.
	pkts := func(shift, jump int) []capture.Packet {
		a := flowtest.New(t0.AddDate(shift, 0, 0), client, server)
		a.SYN().At(ms).SYNACK().At(ms).ACK(flows.Client)
		a.Data(c2s, req).At(ms).Data(s2c, resp).ACK(flows.Client)
		a.At(3*time.Second).Data(c2s, req).At(ms).Data(s2c, resp).ACK(flows.Client)
		b := flowtest.New(a.Now().Add(10*time.Minute).AddDate(jump, 0, 0), addr("10.0.0.2:40001"), server)
		b.SYN().At(ms).SYNACK().At(ms).ACK(flows.Client)
		b.Data(c2s, req).FIN(flows.Client).FIN(flows.Server).ACK(flows.Client)
		return flowtest.Merge(a, b)
	}
	const want = "#1 40000 S1 expired; #2 40001 SF; turns 2, last idle 3s, RTT 1ms; expired 1"
	tests := []struct {
		name        string
		shift, jump int // years
	}{
		{name: "2026"},
		{name: "year 2400", shift: 374},
		{name: "year 1700", shift: -326},
		{name: "jump to year 2226", jump: 200},
		{name: "jump to year 9999", jump: 7973},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, st := run(flows.Options{WantData: true}, pkts(tc.shift, tc.jump))
			c := r.done[0]
			got := fmt.Sprintf("%sturns %d, last idle %v, RTT %v; expired %d", brief(r.done), c.Turns, c.LastIdle, c.RTT, st.Expired)
			if got != want {
				t.Errorf("- want: %s\n-  got: %s", want, got)
			}
		})
	}
}
