package flows_test

import (
	"net/netip"
	"testing"
	"time"

	"why502/flows"
	"why502/flows/flowtest"
)

// TestStartOrderCap checks that with StartOrder a connection that never
// closes cannot hold back, in memory, every connection after it: finished
// connections waiting for order count against MaxConns, and at the cap the
// oldest is shed so that those behind it are delivered, still in order.
func TestStartOrderCap(t *testing.T) {
	const maxConns, syns = 10, 1000
	open := established() // never closes
	pkts := open.Packets()
	for i := range syns {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 30000)
		b := flowtest.New(t0.Add(time.Second+time.Duration(i)*time.Millisecond), src, server)
		if i%2 == 0 {
			b.SYN().Refuse() // closed at once: finished, waits for order
		} else {
			b.SYN() // half-open
		}
		pkts = append(pkts, b.Packets()...)
	}
	r := &recorder{}
	tr := flows.New(flows.Options{MaxConns: maxConns, StartOrder: true}, r)
	maxWaiting := 0
	for i := range pkts {
		tr.Add(&pkts[i])
		st := tr.Stats()
		// Started, minus delivered, is what is held: tracked or waiting.
		maxWaiting = max(maxWaiting, int(st.Conns)-len(r.done))
	}
	tr.Flush()
	if maxWaiting > maxConns {
		t.Errorf("connections held at once\n- want: at most %d\n-  got: %d", maxConns, maxWaiting)
	}
	if len(r.done) != syns+1 {
		t.Fatalf("connections\n- want: %d\n-  got: %d", syns+1, len(r.done))
	}
	for i, c := range r.done {
		if c.ID != uint64(i+1) {
			t.Fatalf("Done order: position %d has ID %d", i, c.ID)
		}
	}
	if !r.done[0].Shed {
		t.Errorf("the connection that never closes was not shed: %+v", r.done[0])
	}
	if st := tr.Stats(); st.Shed == 0 || st.Shed > syns/2+1 {
		t.Errorf("shed\n- want: between 1 and %d (refused connects are closed, not shed)\n-  got: %d", syns/2+1, st.Shed)
	}
	refused := 0
	for _, c := range r.done {
		if c.Handshake == flows.Refused {
			refused++
			if c.Shed {
				t.Errorf("refused connect %d marked shed", c.ID)
			}
		}
	}
	if refused != syns/2 {
		t.Errorf("refused connects\n- want: %d\n-  got: %d", syns/2, refused)
	}
}
