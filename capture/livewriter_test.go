package capture_test

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

// TestPcapngWriter writes frames of two interfaces, one added between
// packets, and reads them back.
func TestPcapngWriter(t *testing.T) {
	var buf bytes.Buffer
	w, err := capture.NewPcapngWriter(&buf, capture.WriterInterface{Name: "eth0", Link: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := seg(capture.PSH|capture.ACK, 7) // 7: the block needs padding
	eth := capturetest.Frame(layers.LinkTypeEthernet, s)
	raw := capturetest.Frame(layers.LinkTypeRaw, seg6(capture.SYN, 0))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WritePacket(0, t0.Add(1), eth, len(eth)))
	id, err := w.AddInterface(capture.WriterInterface{Name: "wg0", Link: 101})
	must(err)
	must(w.WritePacket(id, t0.Add(2), raw, len(raw)+100))
	must(w.WritePacket(0, t0.Add(3), eth[:60], len(eth)))
	if err := w.WritePacket(2, t0, eth, 0); err == nil {
		t.Error("packet of an undescribed interface written")
	}
	must(w.Flush())
	g := readAll(t, []capture.Source{src("w.pcapng", buf.Bytes())}, capture.Options{})
	want := []string{
		"w.pcapng#1 2025-03-01 12:00:00.000000001 +0000 UTC 10.0.0.1:40000>10.0.0.2:80 seq=1000 ack=2000 P. win=512 len=7/7 wire=61",
		"w.pcapng#2 2025-03-01 12:00:00.000000002 +0000 UTC [2001:db8::1]:40000>[2001:db8::2]:443 seq=1000 ack=2000 S win=512 len=0/0 wire=160",
		"w.pcapng#3 2025-03-01 12:00:00.000000003 +0000 UTC 10.0.0.1:40000>10.0.0.2:80 seq=1000 ack=2000 P. win=512 len=6/7 wire=61",
	}
	if len(g.pkts) != len(want) {
		t.Fatalf("packets:\n- want: %d\n-  got: %d (warnings %v)", len(want), len(g.pkts), g.warnings)
	}
	for i, p := range g.pkts {
		if got := describe(p); got != want[i] {
			t.Errorf("packet %d:\n- want: %s\n-  got: %s", i+1, want[i], got)
		}
	}
	if w.Packets() != 3 {
		t.Errorf("Packets: want 3, got %d", w.Packets())
	}
}
