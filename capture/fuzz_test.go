package capture_test

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

// seedCaptures are small captures of every format and link type.
func seedCaptures() [][]byte {
	var out [][]byte
	for _, link := range allLinks {
		s := seg(capture.PSH|capture.ACK, 30)
		if link == layers.LinkTypeIPv6 {
			s = seg6(capture.PSH|capture.ACK, 30)
		}
		f := capturetest.Frame(link, s)
		out = append(out,
			capturetest.Pcap(link, rec(0, f), rec(1, f)),
			capturetest.Pcapng(link, rec(0, f), capturetest.Record{Time: t0, Data: f, Snaplen: 50}))
	}
	f := frameOf(seg(capture.SYN, 0))
	out = append(out,
		capturetest.Gzip(capturetest.Pcap(layers.LinkTypeEthernet, rec(0, f))),
		handPcap(binary.BigEndian, true, 1, rec(0, f)),
		capturetest.Pcapng(layers.LinkTypeEthernet, rec(0, f), capturetest.Record{Time: t0, Data: capturetest.Frame(layers.LinkTypeLinuxSLL2, seg6(capture.ACK, 3)), Link: layers.LinkTypeLinuxSLL2}))
	return out
}

// FuzzReader reads arbitrary bytes as two captures merged, and as one,
// directly and read ahead (Options.Prefetch): no panic, consistent
// packets and counts, and the same packets, counts and warnings either
// way.
func FuzzReader(f *testing.F) {
	for _, c := range seedCaptures() {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		srcs := func() []capture.Source { return []capture.Source{src("f", b), src("g", b)} }
		r, err := capture.NewReader(srcs(), capture.Options{})
		if err != nil {
			return // not a capture: said when opened
		}
		r.Close()
		direct := readAll(t, srcs(), capture.Options{})
		for _, p := range direct.pkts {
			if len(p.Payload) > p.PayloadLen || p.CapLen > p.WireLen || p.Frame < 1 {
				t.Fatalf("inconsistent packet %+v", p)
			}
		}
		st := direct.stats
		if st.TCP != int64(len(direct.pkts)) || st.Frames < st.TCP+st.NonTCP+st.Fragments+st.Undecodable {
			t.Fatalf("stats do not add up: %d packets, %+v", len(direct.pkts), st)
		}
		if ahead := readAll(t, srcs(), capture.Options{Prefetch: true}); !reflect.DeepEqual(ahead, direct) {
			t.Fatalf("read ahead differs from direct:\ndirect   %+v\nprefetch %+v", direct, ahead)
		}
		// One input is read without the merge, and read ahead straight
		// into the batches: the same packets, counts and warnings.
		one := func() []capture.Source { return []capture.Source{src("f", b)} }
		if d, a := readAll(t, one(), capture.Options{}), readAll(t, one(), capture.Options{Prefetch: true}); !reflect.DeepEqual(a, d) {
			t.Fatalf("one input: read ahead differs from direct:\ndirect   %+v\nprefetch %+v", d, a)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, link := range allLinks {
		f.Add(uint16(link), capturetest.Frame(link, seg(capture.SYN, 10)))
		f.Add(uint16(link), capturetest.Frame(link, seg6(capture.SYN, 10)))
	}
	f.Add(uint16(1), capturetest.Ethernet(capturetest.IP(seg(capture.ACK, 1)), 1, 2))
	f.Fuzz(func(t *testing.T, link uint16, frame []byte) {
		var p capture.Packet
		res, cut, _ := capture.DecodeFrame(uint32(link), frame, len(frame), &p)
		if res != "tcp" {
			return
		}
		if len(p.Payload) > p.PayloadLen || p.PayloadLen < 0 || (!cut && len(p.Payload) != p.PayloadLen) {
			t.Fatalf("payload %d of %d (cut %v)", len(p.Payload), p.PayloadLen, cut)
		}
		if len(p.Payload) > 0 && !bytes.Contains(frame, p.Payload) {
			t.Fatal("payload not from the frame")
		}
	})
}
