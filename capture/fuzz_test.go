package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
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

// FuzzReader reads arbitrary bytes as two captures merged, directly and
// read ahead (Options.Prefetch): no panic, consistent packets and counts,
// and the same packets, counts and warnings either way.
func FuzzReader(f *testing.F) {
	for _, c := range seedCaptures() {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var runs [2]struct {
			pkts  []capture.Packet
			stats capture.Stats
			warns []capture.Warning
		}
		for i, prefetch := range []bool{false, true} {
			r, err := capture.NewReader([]capture.Source{src("f", b), src("g", b)}, capture.Options{Prefetch: prefetch})
			if err != nil {
				return
			}
			var n int64
			for {
				p, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				if len(p.Payload) > p.PayloadLen || p.CapLen > p.WireLen || p.Frame < 1 {
					t.Fatalf("inconsistent packet %+v", p)
				}
				c := *p
				c.Payload = bytes.Clone(p.Payload)
				runs[i].pkts = append(runs[i].pkts, c)
			}
			st := r.Stats()
			if st.TCP != n || st.Frames < st.TCP+st.NonTCP+st.Fragments+st.Undecodable {
				t.Fatalf("stats do not add up: %d packets, %+v", n, st)
			}
			runs[i].stats, runs[i].warns = st, r.Warnings()
			r.Close()
		}
		if !reflect.DeepEqual(runs[0], runs[1]) {
			t.Fatalf("read ahead differs from direct:\ndirect   %+v\nprefetch %+v", runs[0], runs[1])
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
