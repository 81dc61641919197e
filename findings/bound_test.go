package findings

import (
	"net/netip"
	"strings"
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

// TestBoundScan: a scan of more servers than maxServers (each refusing
// one connect) keeps statistics for maxServers of them; the rest are
// counted and the capture_coverage finding says so.
func TestBoundScan(t *testing.T) {
	const servers = maxServers + 5000
	c := New(Options{})
	tap := NewTap(nopHandler{}, c)
	tr := flows.New(flows.Options{}, tap)
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	client := netip.MustParseAddr("172.16.0.1")
	for i := range servers {
		at := t0.Add(time.Duration(i) * 20 * time.Microsecond)
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(1+i>>16))
		src := netip.AddrPortFrom(client, uint16(20000+i%40000))
		for _, p := range []capture.Packet{
			{Time: at, Src: src, Dst: dst, Seq: uint32(i), Flags: capture.SYN},
			{Time: at.Add(time.Microsecond), Src: dst, Dst: src, Ack: uint32(i) + 1, Flags: capture.RST | capture.ACK},
		} {
			tr.Add(&p)
			tap.Advance(p.Time)
		}
	}
	tr.Flush()
	fs := c.Findings(Coverage{})
	if len(c.servers) != maxServers || len(c.timeline) > maxServers {
		t.Errorf("servers kept: want %d (timelines at most that), got %d (%d timelines)", maxServers, len(c.servers), len(c.timeline))
	}
	if c.untracked != servers-maxServers {
		t.Errorf("untracked: want %d (one connection each), got %d", servers-maxServers, c.untracked)
	}
	var cov string
	for _, f := range fs {
		if f.Kind == CaptureCoverage {
			cov = f.Conclusion
		}
	}
	if !strings.Contains(cov, "beyond the first 65536 seen") {
		t.Errorf("capture_coverage does not mention the servers left out: %q", cov)
	}
}
