package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
	"why502/flows"
	"why502/flows/flowtest"
)

var bt0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// records turns packets into Ethernet frames for capturetest.
func records(pkts []capture.Packet) []capturetest.Record {
	recs := make([]capturetest.Record, len(pkts))
	for i, p := range pkts {
		d := capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{
			Src: p.Src, Dst: p.Dst, Seq: p.Seq, Ack: p.Ack, Flags: p.Flags, Window: p.Window, Payload: p.Payload,
		})
		recs[i] = capturetest.Record{Time: p.Time, Data: d}
	}
	return recs
}

func pcapOf(bs ...*flowtest.Builder) []byte {
	return capturetest.Pcap(layers.LinkTypeEthernet, records(flowtest.Merge(bs...))...)
}

// base is a capture with one 502 caused by a refused connect (4
// connections); the rows add their damage to it.
func base() []*flowtest.Builder { return failingExchanges(bt0, 50000) }

// withBase is base plus the builders bs, in one pcap.
func withBase(bs ...*flowtest.Builder) []byte { return pcapOf(append(base(), bs...)...) }

// recordHeader is a pcap record header (microseconds, little-endian).
func recordHeader(t time.Time, capLen, wireLen uint32) []byte {
	h := binary.LittleEndian.AppendUint32(nil, uint32(t.Unix()))
	h = binary.LittleEndian.AppendUint32(h, uint32(t.Nanosecond()/1000))
	h = binary.LittleEndian.AppendUint32(h, capLen)
	return binary.LittleEndian.AppendUint32(h, wireLen)
}

// rawRecord appends one record with data to a pcap.
func rawRecord(file []byte, t time.Time, data []byte, wireLen int) []byte {
	file = append(bytes.Clone(file), recordHeader(t, uint32(len(data)), uint32(wireLen))...)
	return append(file, data...)
}

// ngBlocks splits a little-endian pcapng file into its blocks.
func ngBlocks(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 12 {
		n := binary.LittleEndian.Uint32(b[4:8])
		out, b = append(out, b[:n]), b[n:]
	}
	return out
}

func ngBlock(typ uint32, body []byte) []byte {
	n := uint32(12 + len(body))
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

// conn starts a builder from client port to server.
func conn(at time.Duration, port uint16, server netip.AddrPort) *flowtest.Builder {
	return flowtest.New(bt0.Add(at), netip.AddrPortFrom(fClient, port), server)
}

// httpConn is a front connection carrying the client bytes req and the
// server bytes resp, cut into segments of at most 1448 bytes (MSS), closed.
func httpConn(at time.Duration, port uint16, req, resp string) *flowtest.Builder {
	b := conn(at, port, fProxy).SYN().SYNACK().ACK(flows.Client)
	for _, x := range []struct {
		d flows.Dir
		s string
	}{{flows.ClientToServer, req}, {flows.ServerToClient, resp}} {
		for s := x.s; len(s) > 0; {
			n := min(len(s), 1448)
			b.Data(x.d, s[:n])
			s = s[n:]
		}
		b.At(time.Millisecond)
	}
	return b.FIN(flows.Client).FIN(flows.Server)
}

func TestBadInput(t *testing.T) {
	good := withBase()
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 64)...)
	linkPcap := func(link uint32) []byte {
		b := capturetest.Pcap(layers.LinkTypeEthernet, records(flowtest.Merge(base()...))...)
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint32(b[20:24], link)
		return b
	}
	late := bt0.Add(10 * time.Second)
	ack := capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{
		Src: netip.AddrPortFrom(fClient, 60000), Dst: fProxy, Seq: 1, Ack: 1, Flags: capture.ACK})
	withTail := rawRecord(good, late, ack, len(ack))
	frames := int64(len(flowtest.Merge(base()...)))
	tail := frames + 1 // frame number of the record appended to good

	// pcapng: the base with an unknown block and a custom block among the
	// packets, and one with a second interface of a link type not decoded.
	ng := ngBlocks(capturetest.Pcapng(layers.LinkTypeEthernet, records(flowtest.Merge(base()...))...))
	var ngUnknown []byte
	for i, blk := range ng {
		ngUnknown = append(ngUnknown, blk...)
		if i == 3 {
			ngUnknown = append(ngUnknown, ngBlock(0x12345678, []byte("not a block anyone knows"))...)
			ngUnknown = append(ngUnknown, ngBlock(0x00000bad, []byte{0, 0, 0, 0, 'c', 'u', 's', 't'})...)
		}
	}
	recs := records(flowtest.Merge(base()...))
	recs = append(recs, capturetest.Record{Time: late, Data: []byte("usb bytes"), Link: 220})
	ngBadLink := capturetest.Pcapng(layers.LinkTypeEthernet, recs...)
	// pcapng whose last packet claims 4 GiB of captured bytes.
	ngHuge := bytes.Clone(capturetest.Pcapng(layers.LinkTypeEthernet, records(flowtest.Merge(base()...))...))
	last := ngBlocks(ngHuge)
	off := len(ngHuge) - len(last[len(last)-1])
	binary.LittleEndian.PutUint32(ngHuge[off+20:], 0xffffffff)

	// absurd lengths: an IPv4 total length of 65535 in a 54-byte frame
	// that was not cut, and a record claiming a 4 GiB wire length.
	liar := bytes.Clone(ack)
	binary.BigEndian.PutUint16(liar[14+2:], 65535)
	noTCP := capturetest.Ethernet(capturetest.IPv4(fClient, fProxy.Addr(), 6, 0, nil))
	nullTCP := capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{
		Src: netip.AddrPortFrom(fClient, 50000), Dst: fProxy, Seq: 1001, Flags: 0})

	// SYN with data (TCP Fast Open), and a RST carrying a diagnostic.
	req := httpReq("/tfo")
	tfo := conn(0, 40001, fBackend).
		Raw(flows.ClientToServer, capture.SYN, 7000, 0, req, len(req)).
		Raw(flows.ServerToClient, capture.SYN|capture.ACK, 9000, 7001+uint32(len(req)), "", 0).
		Raw(flows.ClientToServer, capture.ACK|capture.FIN, 7001+uint32(len(req)), 9001, "", 0).
		Raw(flows.ServerToClient, capture.ACK|capture.FIN, 9001, 7002+uint32(len(req)), "", 0)
	rstData := conn(0, 40002, fBackend).SYN().SYNACK().ACK(flows.Client).Data(flows.ClientToServer, httpReq("/x"))
	rstData.Raw(flows.ServerToClient, capture.RST|capture.ACK, 5001, rstData.Seq(flows.ClientToServer, rstData.Next(flows.ClientToServer)), "connection reset: diagnostic text", 33)
	// Port reuse: a SYN never answered, then, on the same 4-tuple, a SYN
	// with another ISN that is; and a 4-tuple reused after TIME_WAIT (60 s)
	// and within the tracker's linger (1 s).
	dupA := conn(0, 40003, fBackend).ISN(1000, 5000).SYN()
	dupB := conn(time.Second, 40003, fBackend).ISN(900000, 7000).SYN().SYNACK().ACK(flows.Client).FIN(flows.Client).FIN(flows.Server)
	twA := conn(0, 40004, fBackend).SYN().SYNACK().ACK(flows.Client).FIN(flows.Client).FIN(flows.Server).ACK(flows.Client)
	twB := conn(61*time.Second, 40004, fBackend).ISN(2000000, 8000).SYN().SYNACK().ACK(flows.Client).FIN(flows.Client).FIN(flows.Server)
	lingerA := conn(0, 40005, fBackend).SYN().SYNACK().ACK(flows.Client).FIN(flows.Client).FIN(flows.Server)
	lingerB := conn(time.Second, 40005, fBackend).ISN(3000000, 9000).SYN().SYNACK().ACK(flows.Client).FIN(flows.Client).FIN(flows.Server)

	// HTTP on the front, at 2 s, after the base exchange.
	var pipelined, answers strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&pipelined, "GET /p/%d HTTP/1.1\r\nHost: shop.example\r\n\r\n", i)
		answers.WriteString(httpResp(200))
	}
	bigHeader := "GET /big HTTP/1.1\r\nHost: shop.example\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n"
	const h2 = 2 * time.Second

	type file struct {
		name string
		b    []byte
	}
	tests := []struct {
		name  string
		cmds  []string // flows, analyze
		files []file
		code  int
		// stderr must contain each of these; stdout (JSON lines) each of out.
		stderr, out []string
		noErr       []string // stderr must not contain these
	}{
		{"empty file", []string{"flows", "analyze"}, []file{{"empty.pcap", nil}}, exitInput,
			[]string{"empty.pcap: empty file, not a capture", "supported: pcap and pcapng"}, nil, nil},
		{"empty gzip", []string{"flows"}, []file{{"empty.pcap.gz", capturetest.Gzip(nil)}}, exitInput,
			[]string{"empty.pcap.gz: empty gzip-compressed file", "supported: pcap and pcapng"}, nil, nil},
		{"text file", []string{"flows", "analyze"}, []file{{"notes.txt", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}}, exitInput,
			[]string{"notes.txt: not a capture file (starts with text", "supported: pcap and pcapng, optionally gzip-compressed"}, nil, nil},
		{"PNG", []string{"flows", "analyze"}, []file{{"shot.png", png}}, exitInput,
			[]string{"shot.png: not a capture file (starts with a PNG image header", "supported: pcap and pcapng"}, nil, nil},
		{"not a capture among good ones", []string{"flows"}, []file{{"good.pcap", good}, {"notes.txt", []byte("hello")}}, exitInput,
			[]string{"notes.txt: not a capture file"}, nil, nil},
		{"pcap header cut short", []string{"flows"}, []file{{"hdr.pcap", good[:10]}}, exitInput,
			[]string{"hdr.pcap: pcap file header cut short"}, nil, nil},
		{"truncated in a record", []string{"flows", "analyze"}, []file{{"cut.pcap", withTail[:len(withTail)-10]}}, exitOK,
			[]string{fmt.Sprintf("cut.pcap: frame %d: truncated record", tail)}, []string{fGone.String()}, nil},
		{"truncated in a record header", []string{"flows", "analyze"}, []file{{"cut.pcap", withTail[:len(good)+7]}}, exitOK,
			[]string{fmt.Sprintf("cut.pcap: frame %d: truncated record", tail)}, []string{fGone.String()}, nil},
		{"truncated gzip", []string{"flows", "analyze"}, []file{{"cut.pcap.gz", func() []byte { z := capturetest.Gzip(withTail); return z[:len(z)-12] }()}}, exitOK,
			[]string{"cut.pcap.gz: "}, []string{fGone.String()}, nil},
		{"record claims 4 GiB", []string{"flows", "analyze"}, []file{{"huge.pcap", append(bytes.Clone(good), recordHeader(late, 0xffffffff, 0xffffffff)...)}}, exitOK,
			[]string{fmt.Sprintf("huge.pcap: frame %d: corrupt record header at frame %d: captured length 4294967295 exceeds", tail, tail)}, []string{fGone.String()}, nil},
		{"pcapng packet claims 4 GiB", []string{"flows", "analyze"}, []file{{"huge.pcapng", ngHuge}}, exitOK,
			[]string{fmt.Sprintf("huge.pcapng: frame %d: corrupt packet block at frame %d: captured length 4294967295 exceeds the block", frames, frames)}, []string{`"state":"SF"`}, nil},
		{"record wire length 4 GiB", []string{"flows", "analyze"}, []file{{"wire.pcap", rawRecord(good, late, ack, 0xffffffff)}}, exitOK,
			nil, []string{fGone.String()}, []string{"warning"}},
		{"unknown link type", []string{"flows", "analyze"}, []file{{"usb.pcap", linkPcap(220)}}, exitInput,
			[]string{"usb.pcap: link type 220 (USB_LINUX_MMAPPED) not supported", "supported: Ethernet"}, nil, nil},
		{"unnamed link type", []string{"flows"}, []file{{"odd.pcap", linkPcap(4242)}}, exitInput,
			[]string{"odd.pcap: link type 4242 (unknown) not supported"}, nil, nil},
		{"pcapng interface of unknown link type", []string{"flows", "analyze"}, []file{{"mixed.pcapng", ngBadLink}}, exitOK,
			[]string{fmt.Sprintf("mixed.pcapng: frame %d: frames skipped: link type 220 (USB_LINUX_MMAPPED) not supported", tail)}, []string{fGone.String()}, nil},
		{"pcapng unknown blocks skipped", []string{"flows", "analyze"}, []file{{"blocks.pcapng", ngUnknown}}, exitOK,
			nil, []string{fGone.String()}, []string{"warning"}},
		{"IPv4 total length beyond the frame", []string{"flows", "analyze"}, []file{{"liar.pcap", rawRecord(good, late, liar, len(liar))}}, exitOK,
			[]string{fmt.Sprintf("liar.pcap: frame %d: undecodable frame: IPv4 total length longer than the frame on the wire", tail)}, []string{fGone.String()}, nil},
		{"IP packet with no TCP header", []string{"flows", "analyze"}, []file{{"notcp.pcap", rawRecord(good, late, noTCP, len(noTCP))}}, exitOK,
			[]string{fmt.Sprintf("notcp.pcap: frame %d: undecodable frame: TCP header not captured", tail)}, []string{fGone.String()}, nil},
		{"zero-length TCP, no flags", []string{"flows"}, []file{{"null.pcap", rawRecord(good, late, nullTCP, len(nullTCP))}}, exitOK,
			nil, []string{fGone.String(), `"client":"10.1.2.3:50000","server":"10.0.0.1:80","state":"OTH","handshake":"midstream","syns":0,"bytes_client":0,"bytes_server":0,"packets_client":1,`}, []string{"warning"}},
		{"SYN with data", []string{"flows"}, []file{{"tfo.pcap", withBase(tfo)}}, exitOK,
			nil, []string{fmt.Sprintf(`"client":"10.1.2.3:40001","server":"10.0.0.7:8080","state":"SF","handshake":"established","syns":1,"bytes_client":%d,"bytes_server":0`, len(req))}, nil},
		{"RST with data", []string{"flows", "analyze"}, []file{{"rst.pcap", withBase(rstData)}}, exitOK,
			nil, []string{`"client":"10.1.2.3:40002","server":"10.0.0.7:8080","state":"RSTR"`, fGone.String()}, nil},
		{"duplicate SYNs with different ISNs", []string{"flows"}, []file{{"dup.pcap", withBase(dupA, dupB)}}, exitOK,
			nil, []string{`"client":"10.1.2.3:40003","server":"10.0.0.7:8080","state":"S0"`, `"client":"10.1.2.3:40003","server":"10.0.0.7:8080","state":"SF"`}, nil},
		{"4-tuple reused after TIME_WAIT", []string{"flows"}, []file{{"tw.pcap", withBase(twA, twB, lingerA, lingerB)}}, exitOK,
			nil, []string{`"client":"10.1.2.3:40004","server":"10.0.0.7:8080","state":"SF","handshake":"established","syns":1`,
				`"duration_s":0,"client":"10.1.2.3:40004"`, `"client":"10.1.2.3:40005","server":"10.0.0.7:8080","state":"SF","handshake":"established","syns":1`}, nil},
		{"HTTP with NUL bytes", []string{"flows", "analyze"}, []file{{"nul.pcap", withBase(httpConn(h2, 41000, "GET /a\x00b HTTP/1.1\r\nHost: x\x00y\r\n\r\n", "HTTP/1.1 200 OK\x00\r\nContent-Length: 2\r\n\r\n\x00\x00"))}}, exitOK,
			[]string{"3 front requests, 1 answered 5xx"}, []string{fGone.String()}, nil},
		{"HTTP 1 MB header line", []string{"flows", "analyze"}, []file{{"big.pcap", withBase(httpConn(h2, 41001, bigHeader, httpResp(400)))}}, exitOK,
			[]string{"3 front requests, 1 answered 5xx"}, []string{fGone.String()}, nil},
		{"HTTP negative Content-Length", []string{"analyze"}, []file{{"neg.pcap", withBase(httpConn(h2, 41002,
			"POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"))}}, exitOK,
			[]string{"3 front requests, 1 answered 5xx"}, []string{fGone.String()}, nil},
		{"HTTP conflicting Content-Length", []string{"analyze"}, []file{{"cl.pcap", withBase(httpConn(h2, 41003,
			"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 9\r\n\r\nx"))}}, exitOK,
			[]string{"3 front requests, 1 answered 5xx"}, []string{fGone.String()}, nil},
		{"HTTP chunk size overflows", []string{"analyze"}, []file{{"chunk.pcap", withBase(httpConn(h2, 41004, httpReq("/chunk"),
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"))}}, exitOK,
			[]string{"3 front requests, 1 answered 5xx"}, []string{fGone.String()}, nil},
		{"HTTP response without request", []string{"analyze"}, []file{{"noreq.pcap", withBase(httpConn(h2, 41005, "", httpResp(502)))}}, exitOK,
			// The 502 without its request is counted and reported, not dropped (issue 8 item 4).
			[]string{"3 front requests, 2 answered 5xx (1 without their request in the capture)"},
			[]string{fGone.String(), `status":502,"client":"10.1.2.3:41005"`, `cause":"unknown","inferred":true,"missing":["request not in the capture (no request before it`}, nil},
		{"HTTP 10k pipelined requests", []string{"analyze"}, []file{{"pipe.pcap", withBase(httpConn(h2, 41006, pipelined.String(), answers.String()))}}, exitOK,
			[]string{"10002 front requests, 1 answered 5xx"}, []string{fGone.String()}, nil},
	}
	for _, tc := range tests {
		for _, cmd := range tc.cmds {
			t.Run(cmd+": "+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				args := []string{cmd, "--format", "jsonl"}
				for _, f := range tc.files {
					p := filepath.Join(dir, f.name)
					if err := os.WriteFile(p, f.b, 0o644); err != nil {
						t.Fatal(err)
					}
					args = append(args, p)
				}
				code, out, errOut := runCLI(t, nil, args...)
				if code != tc.code {
					t.Errorf("exit code\n- want: %d\n-  got: %d (stderr: %s)", tc.code, code, errOut)
				}
				for _, s := range tc.stderr {
					if cmd == "flows" && strings.Contains(s, "front requests") {
						continue // analyze's summary
					}
					if !strings.Contains(errOut, s) {
						t.Errorf("stderr\n- want: containing %q\n-  got: %s", s, errOut)
					}
				}
				for _, s := range tc.noErr {
					if strings.Contains(errOut, s) {
						t.Errorf("stderr\n- want: not containing %q\n-  got: %s", s, errOut)
					}
				}
				for _, s := range tc.out {
					if cmd == "analyze" && strings.HasPrefix(s, `"`) {
						continue // connection fields: flows output only
					}
					if !strings.Contains(out, s) {
						t.Errorf("stdout\n- want: containing %q\n-  got: %s\nstderr: %s", s, out, errOut)
					}
				}
				if code == exitOK && cmd == "analyze" && !strings.Contains(out, `"cause":"connect_refused"`) {
					t.Errorf("the base incident (connect_refused) is missing:\n%s\nstderr: %s", out, errOut)
				}
			})
		}
	}
}

// TestHugeRecordAllocatesLittle reads files whose last record claims a
// huge length and checks that the reader never allocates the claimed
// length: at most its 64 KiB read-ahead step per record.
func TestHugeRecordAllocatesLittle(t *testing.T) {
	good := withBase()
	late := bt0.Add(10 * time.Second)
	tests := []struct {
		name string
		b    []byte
	}{
		{"4 GiB claimed", append(bytes.Clone(good), recordHeader(late, 0xffffffff, 0xffffffff)...)},
		{"256 KiB claimed, 100 bytes there", append(append(bytes.Clone(good), recordHeader(late, 256<<10, 256<<10)...), make([]byte, 100)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := func() {
				r, err := capture.NewReader([]capture.Source{{Name: "huge.pcap", R: bytes.NewReader(tc.b)}}, capture.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for {
					if _, err := r.Next(); err != nil {
						break
					}
				}
				if len(r.Warnings()) != 1 {
					t.Fatalf("warnings\n- want: 1\n-  got: %v", r.Warnings())
				}
			}
			read() // warm up
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			const n = 10
			for range n {
				read()
			}
			runtime.ReadMemStats(&after)
			// Two 256 KiB read buffers per file (plain reader and bufio) and
			// one 64 KiB step; the claimed length would be 4 GiB or 256 KiB more.
			per := (after.TotalAlloc - before.TotalAlloc) / n
			if limit := uint64(600 << 10); per > limit {
				t.Errorf("bytes allocated per read\n- want: at most %d\n-  got: %d", limit, per)
			}
			t.Logf("%d bytes allocated per read of a %d-byte file", per, len(tc.b))
		})
	}
}
