package capture_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// seg is a client->server segment with a payload of n bytes.
func seg(flags capture.TCPFlags, n int) capturetest.Segment {
	return capturetest.Segment{
		Src: ap("10.0.0.1:40000"), Dst: ap("10.0.0.2:80"),
		Seq: 1000, Ack: 2000, Flags: flags, Window: 512,
		Payload: bytes.Repeat([]byte("x"), n),
	}
}

func seg6(flags capture.TCPFlags, n int) capturetest.Segment {
	s := seg(flags, n)
	s.Src, s.Dst = ap("[2001:db8::1]:40000"), ap("[2001:db8::2]:443")
	return s
}

// rec is a record at t0 plus ms milliseconds.
func rec(ms int, data []byte) capturetest.Record {
	return capturetest.Record{Time: t0.Add(time.Duration(ms) * time.Millisecond), Data: data}
}

// got is what a test compares: the packets (payload copied), warnings as
// strings, stats.
type got struct {
	pkts     []capture.Packet
	warnings []string
	stats    capture.Stats
}

func readAll(t testing.TB, srcs []capture.Source, opts capture.Options) got {
	t.Helper()
	r, err := capture.NewReader(srcs, opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	defer r.Close()
	var g got
	if err := r.Each(func(p *capture.Packet) {
		c := *p
		c.Payload = bytes.Clone(p.Payload)
		g.pkts = append(g.pkts, c)
	}); err != nil {
		t.Fatalf("Each: %v", err)
	}
	for _, w := range r.Warnings() {
		g.warnings = append(g.warnings, w.Error())
	}
	g.stats = r.Stats()
	return g
}

func src(name string, b []byte) capture.Source {
	return capture.Source{Name: name, R: bytes.NewReader(b)}
}

// allLinks are the link types decoded, with a frame builder each.
var allLinks = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw,
	layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12,
}

func frameOf(s capturetest.Segment) []byte { return capturetest.Frame(layers.LinkTypeEthernet, s) }

func capturePcap(recs ...capturetest.Record) []byte {
	return capturetest.Pcap(layers.LinkTypeEthernet, recs...)
}
