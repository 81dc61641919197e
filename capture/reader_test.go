package capture_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

func TestLinkTypes(t *testing.T) {
	for _, link := range allLinks {
		for _, v6 := range []bool{false, true} {
			s := seg(capture.PSH|capture.ACK, 100)
			if v6 {
				s = seg6(capture.PSH|capture.ACK, 100)
			}
			if link == layers.LinkTypeIPv4 && v6 || link == layers.LinkTypeIPv6 && !v6 {
				continue
			}
			frame := capturetest.Frame(link, s)
			files := map[string][]byte{
				"pcap":   capturetest.Pcap(link, rec(0, frame)),
				"pcapng": capturetest.Pcapng(link, capturetest.Record{Time: t0, Data: frame}),
			}
			for format, file := range files {
				t.Run(fmt.Sprintf("%s/%v/v6=%v", format, link, v6), func(t *testing.T) {
					g := readAll(t, []capture.Source{src("a", file)}, capture.Options{})
					if len(g.pkts) != 1 {
						t.Fatalf("packets:\n- want: 1\n-  got: %d (warnings %v)", len(g.pkts), g.warnings)
					}
					p := g.pkts[0]
					want := fmt.Sprintf("a#1 %v %v>%v seq=1000 ack=2000 P. win=512 len=100/100 wire=%d", t0, s.Src, s.Dst, len(frame))
					if gotS := describe(p); gotS != want {
						t.Errorf("packet:\n- want: %s\n-  got: %s", want, gotS)
					}
				})
			}
		}
	}
}

func describe(p capture.Packet) string {
	return fmt.Sprintf("%s#%d %v %v>%v seq=%d ack=%d %v win=%d len=%d/%d wire=%d",
		p.File, p.Frame, p.Time, p.Src, p.Dst, p.Seq, p.Ack, p.Flags, p.Window, len(p.Payload), p.PayloadLen, p.WireLen)
}

// handPcap writes a pcap file by hand, in the given byte order and with
// nanosecond timestamps or not.
func handPcap(order binary.ByteOrder, nano bool, link uint32, recs ...capturetest.Record) []byte {
	var b bytes.Buffer
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	h := make([]byte, 24)
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 262144)
	order.PutUint32(h[20:], link)
	b.Write(h)
	for _, r := range recs {
		rh := make([]byte, 16)
		frac := r.Time.Nanosecond()
		if !nano {
			frac /= 1000
		}
		order.PutUint32(rh[0:], uint32(r.Time.Unix()))
		order.PutUint32(rh[4:], uint32(frac))
		order.PutUint32(rh[8:], uint32(len(r.Data)))
		order.PutUint32(rh[12:], uint32(len(r.Data)))
		b.Write(rh)
		b.Write(r.Data)
	}
	return b.Bytes()
}

func TestFormats(t *testing.T) {
	frame := capturetest.Frame(layers.LinkTypeEthernet, seg(capture.SYN, 0))
	ts := t0.Add(123456789 * time.Nanosecond)
	r := capturetest.Record{Time: ts, Data: frame}
	usTS := t0.Add(123456 * time.Microsecond)
	tests := []struct {
		name string
		file []byte
		want time.Time
	}{
		{"pcap little-endian micro", handPcap(binary.LittleEndian, false, 1, r), usTS},
		{"pcap big-endian micro", handPcap(binary.BigEndian, false, 1, r), usTS},
		{"pcap little-endian nano", handPcap(binary.LittleEndian, true, 1, r), ts},
		{"pcap big-endian nano", handPcap(binary.BigEndian, true, 1, r), ts},
		{"pcapgo writer nanos", capturetest.PcapNanos(layers.LinkTypeEthernet, r), ts},
		{"pcapng", capturetest.Pcapng(layers.LinkTypeEthernet, r), ts},
		{"gzip pcap", capturetest.Gzip(capturetest.Pcap(layers.LinkTypeEthernet, r)), usTS},
		{"gzip pcapng", capturetest.Gzip(capturetest.Pcapng(layers.LinkTypeEthernet, r)), ts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// io.MultiReader hides bytes.Reader's methods: a plain stream, like stdin.
			g := readAll(t, []capture.Source{{Name: "-", R: io.MultiReader(bytes.NewReader(tc.file))}}, capture.Options{})
			if len(g.pkts) != 1 || !g.pkts[0].Time.Equal(tc.want) || g.pkts[0].Flags != capture.SYN {
				t.Fatalf("\n- want: one SYN at %v\n-  got: %d packets %v, warnings %v", tc.want, len(g.pkts), g.pkts, g.warnings)
			}
		})
	}
}

func TestPcapngMixedInterfaces(t *testing.T) {
	eth := capturetest.Frame(layers.LinkTypeEthernet, seg(capture.SYN, 0))
	sll2 := capturetest.Frame(layers.LinkTypeLinuxSLL2, seg6(capture.SYN|capture.ACK, 0))
	raw := capturetest.Frame(layers.LinkTypeRaw, seg(capture.ACK, 5))
	user := []byte{1, 2, 3}
	file := capturetest.Pcapng(layers.LinkTypeEthernet,
		capturetest.Record{Time: t0, Data: eth, Link: layers.LinkTypeEthernet},
		capturetest.Record{Time: t0.Add(time.Millisecond), Data: sll2, Link: layers.LinkTypeLinuxSLL2},
		capturetest.Record{Time: t0.Add(2 * time.Millisecond), Data: user, Link: 147},
		capturetest.Record{Time: t0.Add(3 * time.Millisecond), Data: raw, Link: layers.LinkTypeRaw},
		capturetest.Record{Time: t0.Add(4 * time.Millisecond), Data: user, Link: 147},
	)
	g := readAll(t, []capture.Source{src("mixed.pcapng", file)}, capture.Options{})
	var gotS []string
	for _, p := range g.pkts {
		gotS = append(gotS, fmt.Sprintf("%d %v %v", p.Frame, p.Src.Addr(), p.Flags))
	}
	want := "1 10.0.0.1 S|2 2001:db8::1 S.|4 10.0.0.1 ."
	if s := strings.Join(gotS, "|"); s != want {
		t.Errorf("packets:\n- want: %s\n-  got: %s", want, s)
	}
	wantW := "mixed.pcapng: frame 3: frames skipped: link type 147 (USER0) not supported; supported: Ethernet, Linux SLL, Linux SLL2, BSD loopback/Null, raw IP"
	if len(g.warnings) != 1 || g.warnings[0] != wantW {
		t.Errorf("warnings:\n- want: [%s]\n-  got: %q", wantW, g.warnings)
	}
	if g.stats.Frames != 5 || g.stats.Undecodable != 2 || g.stats.TCP != 3 {
		t.Errorf("stats: %+v", g.stats)
	}
}

func TestMerge(t *testing.T) {
	f := func(ms ...int) []byte {
		var recs []capturetest.Record
		for _, m := range ms {
			s := seg(capture.ACK, 0)
			s.Seq = uint32(m)
			recs = append(recs, rec(m, capturetest.Frame(layers.LinkTypeEthernet, s)))
		}
		return capturetest.Pcap(layers.LinkTypeEthernet, recs...)
	}
	// Non-TCP frame first in b: frame numbers still count it.
	arp := append(capturetest.Ethernet(nil)[:12:12], 0x08, 0x06, 0, 1)
	b := capturetest.Pcapng(layers.LinkTypeEthernet, rec(0, arp), rec(2, capturetest.Frame(layers.LinkTypeEthernet, seg(capture.ACK, 0))))
	g := readAll(t, []capture.Source{src("a", f(1, 3, 3, 5)), src("b", b), src("c", f(3, 4))}, capture.Options{})
	var gotS []string
	for _, p := range g.pkts {
		gotS = append(gotS, fmt.Sprintf("%s#%d@%d", p.File, p.Frame, p.Time.Sub(t0).Milliseconds()))
	}
	want := "a#1@1 b#2@2 a#2@3 a#3@3 c#1@3 c#2@4 a#4@5"
	if s := strings.Join(gotS, " "); s != want {
		t.Errorf("merge order:\n- want: %s\n-  got: %s", want, s)
	}
	if g.stats.Frames != 8 || g.stats.NonTCP != 1 || !g.stats.First.Equal(t0) || !g.stats.Last.Equal(t0.Add(5*time.Millisecond)) {
		t.Errorf("stats: %+v", g.stats)
	}
}

func TestBadInput(t *testing.T) {
	frame := capturetest.Frame(layers.LinkTypeEthernet, seg(capture.ACK, 10))
	good := capturetest.Pcap(layers.LinkTypeEthernet, rec(0, frame), rec(1, frame), rec(2, frame))
	corrupt := bytes.Clone(good)
	// Third record's captured length: 24 file header + 2*(16+len).
	binary.LittleEndian.PutUint32(corrupt[24+2*(16+len(frame))+8:], 0xffffffff)
	ng := capturetest.Pcapng(layers.LinkTypeEthernet, rec(0, frame), rec(1, frame))
	gz := capturetest.Gzip(good)
	gzCut := gz[:len(gz)-3]
	gzBad := bytes.Clone(gz)
	gzBad[len(gzBad)-6] ^= 1 // CRC-32 in the trailer
	// Second EPB: after the section header and the interface description.
	epb2 := bytes.LastIndex(ng, []byte{6, 0, 0, 0})
	ngBig := bytes.Clone(ng)
	binary.LittleEndian.PutUint32(ngBig[epb2+20:], 1000000)
	ngIf := bytes.Clone(ng)
	binary.LittleEndian.PutUint32(ngIf[epb2+8:], 7)
	tests := []struct {
		name     string
		file     []byte
		packets  int
		warnings []string
	}{
		{"truncated last record", good[:len(good)-5], 2,
			[]string{"f: frame 3: truncated record: file ends in the middle of frame 3"}},
		{"truncated record header", good[:len(good)-len(frame)-10], 2,
			[]string{"f: frame 3: truncated record: file ends in the middle of frame 3"}},
		{"corrupt record", corrupt, 2,
			[]string{"f: frame 3: corrupt record header at frame 3: captured length 4294967295 exceeds the snapshot length 262144; stopped reading this file"}},
		{"truncated gzip", capturetest.Gzip(good)[:60], 0,
			[]string{"f: frame 1: truncated record: file ends in the middle of frame 1"}},
		{"gzip cut in its trailer", gzCut, 3,
			[]string{"f: data ends early after frame 3 (truncated compressed file?); stopped reading this file"}},
		{"gzip bad checksum", gzBad, 3,
			[]string{"f: read error after frame 3: gzip: invalid checksum; stopped reading this file"}},
		{"pcapng captured length beyond block", ngBig, 1,
			[]string{"f: frame 2: corrupt packet block at frame 2: captured length 1000000 exceeds the block; stopped reading this file"}},
		{"pcapng undescribed interface", ngIf, 1,
			[]string{"f: frame 2: corrupt packet block at frame 2: interface 7 not described (1 interfaces in this section); stopped reading this file"}},
		{"truncated pcapng", ng[:len(ng)-7], 1,
			[]string{"f: frame 2: truncated record: file ends in the middle of frame 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := readAll(t, []capture.Source{src("f", tc.file), src("other", good)}, capture.Options{})
			var fromF int
			for _, p := range g.pkts {
				if p.File == "f" {
					fromF++
				}
			}
			if fromF != tc.packets || len(g.pkts) != tc.packets+3 {
				t.Errorf("packets from f:\n- want: %d (+3 from other)\n-  got: %d of %d", tc.packets, fromF, len(g.pkts))
			}
			if tc.warnings != nil && strings.Join(g.warnings, "\n") != strings.Join(tc.warnings, "\n") {
				t.Errorf("warnings:\n- want: %q\n-  got: %q", tc.warnings, g.warnings)
			}
			if tc.warnings == nil && len(g.warnings) != 1 {
				t.Errorf("warnings:\n- want: one\n-  got: %q", g.warnings)
			}
		})
	}
}

func TestNotACapture(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "f: empty file, not a capture (supported: pcap and pcapng, optionally gzip-compressed)"},
		{"text", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), `f: not a capture file (starts with text "GET / HTTP/1.1\r\n"; supported: pcap and pcapng, optionally gzip-compressed)`},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "f: not a capture file (starts with a PNG image header; supported: pcap and pcapng, optionally gzip-compressed)"},
		{"gzip text", capturetest.Gzip([]byte("hello")), `f: not a capture file (starts with text "hello"; supported: pcap and pcapng, optionally gzip-compressed)`},
		{"short pcap header", []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0}, "f: pcap file header cut short: unexpected EOF"},
		{"unsupported link type", capturetest.Pcap(147), "f: link type 147 (USER0) not supported; supported: Ethernet, Linux SLL, Linux SLL2, BSD loopback/Null, raw IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := capture.NewReader([]capture.Source{src("f", tc.file)}, capture.Options{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("\n- want: %s\n-  got: %v", tc.want, err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	frame := capturetest.Frame(layers.LinkTypeEthernet, seg(capture.SYN, 0))
	gz := filepath.Join(dir, "capture.pcap") // gzip despite the name
	if err := os.WriteFile(gz, capturetest.Gzip(capturetest.Pcap(layers.LinkTypeEthernet, rec(0, frame))), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open([]string{gz}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if p, err := r.Next(); err != nil || p.File != gz || p.Frame != 1 {
		t.Errorf("\n- want: %s frame 1\n-  got: %v %v", gz, p, err)
	}
	missing := filepath.Join(dir, "missing.pcap")
	if _, err := capture.Open([]string{gz, missing}, capture.Options{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("\n- want: an error naming %s\n-  got: %v", missing, err)
	}
}

// TestRecordLargerThanReadBuffer reads a file declaring a 1 MiB snapshot
// length whose second record (a frame with 300 KiB of trailing bytes)
// does not fit the 256 KiB read buffer: frames that fit are read in place
// from the buffer, this one is copied out; all three must come out whole
// and in order, the small ones around it too.
func TestRecordLargerThanReadBuffer(t *testing.T) {
	small := capturetest.Frame(layers.LinkTypeEthernet, seg(capture.PSH|capture.ACK, 10))
	big := append(capturetest.Frame(layers.LinkTypeEthernet, seg(capture.PSH|capture.ACK, 1000)), make([]byte, 300<<10)...)
	file := handPcap(binary.LittleEndian, false, 1, rec(0, small), rec(1, big), rec(2, small))
	binary.LittleEndian.PutUint32(file[16:], 1<<20) // snaplen
	for _, prefetch := range []bool{false, true} {
		g := readAll(t, []capture.Source{{Name: "big.pcap", R: bytes.NewReader(file)}}, capture.Options{Prefetch: prefetch})
		var got []string
		for _, p := range g.pkts {
			got = append(got, fmt.Sprintf("frame %d: caplen %d, payload %d", p.Frame, p.CapLen, len(p.Payload)))
		}
		want := []string{
			fmt.Sprintf("frame 1: caplen %d, payload 10", len(small)),
			fmt.Sprintf("frame 2: caplen %d, payload 1000", len(big)),
			fmt.Sprintf("frame 3: caplen %d, payload 10", len(small)),
		}
		if !slices.Equal(got, want) || len(g.warnings) > 0 {
			t.Errorf("prefetch %v\n- want: %q\n-  got: %q, warnings %q", prefetch, want, got, g.warnings)
		}
	}
}
