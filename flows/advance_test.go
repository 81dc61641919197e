package flows_test

import (
	"testing"
	"time"

	"why502/flows"
)

// TestAdvance: a live capture's tick finishes lingering and idle
// connections while no packet comes; time never goes backwards.
func TestAdvance(t *testing.T) {
	tests := []struct {
		name string
		at   []time.Duration // Advance calls, from the last packet
		want string
	}{
		{"before the linger", []time.Duration{time.Second}, ""},
		{"after the linger", []time.Duration{2 * time.Second}, "#1 40000 RSTR; "},
		{"time does not go back", []time.Duration{time.Second, -time.Hour, time.Second}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			tr := flows.New(flows.Options{Linger: 2 * time.Second}, &rec)
			var last time.Time
			for _, p := range established().Data(c2s, req).RST(flows.Server).Packets() {
				tr.Add(&p)
				last = p.Time
			}
			for _, d := range tc.at {
				tr.Advance(last.Add(d))
			}
			if got := brief(rec.done); got != tc.want {
				t.Errorf("- want: %q\n-  got: %q", tc.want, got)
			}
		})
	}
}
