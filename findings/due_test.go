package findings

import (
	"net/netip"
	"testing"
	"time"

	"why502/flows"
)

// TestDueAtBoundary: an unanswered SYN is taken exactly ConnectTimeout
// after it, and its outcome used exactly Reorder after it, not a
// nanosecond before (Advance compares with the due times kept in the
// heaps).
func TestDueAtBoundary(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opts := Options{ConnectTimeout: 3 * time.Second, Reorder: 4 * time.Second}
	tests := []struct {
		at                   time.Duration
		pending, events, use int // attempts pending, events waiting, events used
	}{
		{3*time.Second - 1, 1, 0, 0},
		{3 * time.Second, 0, 1, 0},
		{4*time.Second - 1, 0, 1, 0},
		{4 * time.Second, 0, 0, 1},
	}
	c := New(opts)
	up := netip.MustParseAddrPort("10.0.0.7:8080")
	c.start(&flows.Conn{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: up,
		Handshake: flows.Unanswered, SYNs: 1, First: flows.FrameRef{Frame: 1, Time: t0}, Last: t0})
	for _, tc := range tests {
		c.Advance(t0.Add(tc.at))
		used := 0
		if s := c.servers[up]; s != nil {
			used = s.failures
		}
		if len(c.pending) != tc.pending || len(c.events) != tc.events || used != tc.use {
			t.Errorf("at %v: pending %d, waiting %d, used %d; want %d, %d, %d",
				tc.at, len(c.pending), len(c.events), used, tc.pending, tc.events, tc.use)
		}
	}
}
