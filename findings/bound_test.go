package findings

import (
	"net/netip"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
)

type nopHandler struct{}

func (nopHandler) Data(*flows.Conn, flows.Chunk) {}
func (nopHandler) Gap(*flows.Conn, flows.Gap)    {}
func (nopHandler) Done(*flows.Conn)              {}

// TestBoundFlood: under a SYN flood faster than the reorder delay and the
// connect timeout drain them, the Collector's per-attempt state stays
// bounded by count (issue 8): the attempts pending by the tracker's cap,
// the due list by twice that, the reorder buffer by maxReorder.
func TestBoundFlood(t *testing.T) {
	const maxConns, syns = 1000, 3 * maxReorder
	c := New(Options{})
	tap := NewTap(nopHandler{}, c)
	tr := flows.New(flows.Options{MaxConns: maxConns}, tap)
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	target := netip.MustParseAddrPort("10.0.0.1:80")
	var most struct{ pending, due, events int }
	for i := range syns {
		p := capture.Packet{
			Time: t0.Add(time.Duration(i) * 10 * time.Microsecond), // 100k SYNs a second
			Src:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), uint16(20000+i>>16)),
			Dst:  target, Seq: uint32(i), Flags: capture.SYN,
		}
		tr.Add(&p)
		tap.Advance(p.Time)
		most.pending = max(most.pending, len(c.pending))
		most.due = max(most.due, len(c.due))
		most.events = max(most.events, len(c.events))
	}
	if most.pending > maxConns || most.due > 2*maxConns+1025 || most.events > maxReorder {
		t.Errorf("most held at once\n- want: pending <= %d, due <= %d, events <= %d\n-  got: %+v", maxConns, 2*maxConns+1025, maxReorder, most)
	}
	tr.Flush()
	c.Findings(Coverage{})
	if s := c.servers[target]; s == nil || s.failures != syns {
		t.Errorf("failed connects counted\n- want: %d\n-  got: %+v", syns, s)
	}
}
