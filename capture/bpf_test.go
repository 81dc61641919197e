package capture_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"why502/capture"
	"why502/capture/capturetest"
)

// bpfLinks are the link types CompileBPF handles, with how to wrap an IP
// packet for each.
var bpfLinks = []struct {
	name string
	link uint32
	wrap func(ip []byte) []byte
}{
	{"ethernet", 1, func(ip []byte) []byte { return capturetest.Ethernet(ip) }},
	{"ethernet+vlan", 1, func(ip []byte) []byte { return capturetest.Ethernet(ip, 100) }},
	{"ethernet+qinq", 1, func(ip []byte) []byte { return capturetest.Ethernet(ip, 10, 20) }},
	{"sll", 113, capturetest.SLL},
	{"sll2", 276, capturetest.SLL2},
	{"raw", 101, func(ip []byte) []byte { return ip }},
	{"ipv4", 228, func(ip []byte) []byte { return ip }},
}

// filterExprs are hand-picked expressions; randomExpr adds more.
var filterExprs = []string{
	"", "tcp", "ip", "ip6", "not tcp",
	"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "host 2001:db8::1", "dst 2001:db8::2",
	"net 10.0.0.0/8", "net 10.0.0.0/31", "src net 192.168", "net 0.0.0.0/0", "net ::/0", "net 2001:db8::/32",
	"net 2001:db8::/33", "dst net 2001:db8::/127", "net ::ffff:0:0/96",
	"port 80", "src port 80", "dst port 80", "port 0", "port 65535", "portrange 1-1024", "src portrange 40000-40010",
	"dst portrange 80-80", "portrange 0-65535",
	"host 10.0.0.1 and port 80", "host 10.0.0.1 or host 2001:db8::1", "not (port 80 or 443)",
	"ip6 and port 443", "ip and not port 80", "port 80 or 443 and ip6", "!ip6 && (src port 80 || dst portrange 8000-9000)",
	"host ::ffff:10.0.0.1", "tcp port 80 and src 10.0.0.2 or dst net 2001:db8:1::/48",
}

var (
	addrs4 = []string{"10.0.0.1", "10.0.0.2", "192.168.1.5", "10.255.0.1", "172.16.0.1"}
	addrs6 = []string{"2001:db8::1", "2001:db8::2", "2001:db8:1::2", "2001:db8:8000::1", "fe80::1", "::ffff:10.0.0.1"}
	ports  = []uint16{80, 443, 8080, 40000, 40005, 0, 65535, 1024, 1}
)

// randomExpr builds a filter expression from the supported grammar.
func randomExpr(rng *rand.Rand, depth int) string {
	if depth > 0 && rng.IntN(3) > 0 {
		a, b := randomExpr(rng, depth-1), randomExpr(rng, depth-1)
		switch rng.IntN(4) {
		case 0:
			return "(" + a + ") and (" + b + ")"
		case 1:
			return "(" + a + ") or (" + b + ")"
		case 2:
			return "not (" + a + ")"
		default:
			return a + " || " + b
		}
	}
	d := []string{"", "src ", "dst "}[rng.IntN(3)]
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	switch rng.IntN(7) {
	case 0:
		return d + "host " + pick(addrs4)
	case 1:
		return d + "host " + pick(addrs6)
	case 2:
		return d + "net " + netip.PrefixFrom(netip.MustParseAddr(pick(addrs4)), rng.IntN(33)).Masked().String()
	case 3:
		return d + "net " + netip.PrefixFrom(netip.MustParseAddr(pick(addrs6)), rng.IntN(129)).Masked().String()
	case 4:
		return fmt.Sprintf("%sport %d", d, ports[rng.IntN(len(ports))])
	case 5:
		lo := ports[rng.IntN(len(ports))]
		return fmt.Sprintf("%sportrange %d-%d", d, lo, min(int(lo)+rng.IntN(10000), 65535))
	}
	return pick([]string{"tcp", "ip", "ip6"})
}

// testFrames returns IP packets: TCP segments between the test addresses,
// and packets the decoder rejects or treats specially.
func testFrames(rng *rand.Rand) map[string][]byte {
	out := map[string][]byte{}
	for i := 0; i < 60; i++ {
		s := capturetest.Segment{Seq: 1, Flags: capture.ACK, Payload: make([]byte, rng.IntN(3)*10)}
		pool := addrs4
		if i%2 == 1 {
			pool = addrs6
		}
		sp, dp := ports[rng.IntN(len(ports))], ports[rng.IntN(len(ports))]
		s.Src = netip.AddrPortFrom(netip.MustParseAddr(pool[rng.IntN(len(pool))]), sp)
		s.Dst = netip.AddrPortFrom(netip.MustParseAddr(pool[rng.IntN(len(pool))]), dp)
		if i%7 == 0 {
			s.Options = []byte{2, 4, 5, 0xb4} // MSS: a 24-byte TCP header
		}
		out[fmt.Sprintf("tcp %v>%v opts=%d", s.Src, s.Dst, len(s.Options))] = capturetest.IP(s)
	}
	a4, b4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	tcp4 := capturetest.TCP(capturetest.Segment{Src: netip.AddrPortFrom(a4, 40000), Dst: netip.AddrPortFrom(b4, 80), Flags: capture.SYN})
	tcp6 := capturetest.TCP(capturetest.Segment{Src: netip.AddrPortFrom(a6, 40000), Dst: netip.AddrPortFrom(b6, 80), Flags: capture.SYN})
	v4 := capturetest.IPv4(a4, b4, 6, 0, tcp4)
	mod := func(b []byte, f func(b []byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	out["udp"] = capturetest.IPv4(a4, b4, 17, 0, tcp4)
	out["fragment MF"] = capturetest.IPv4(a4, b4, 6, 0x2000, tcp4)
	out["fragment offset"] = capturetest.IPv4(a4, b4, 6, 0x0010, tcp4)
	out["DF set"] = capturetest.IPv4(a4, b4, 6, 0x4000, tcp4)
	out["total length 0"] = mod(v4, func(b []byte) { b[2], b[3] = 0, 0 })
	out["total length short"] = mod(v4, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 30) })
	out["total length below IHL"] = mod(v4, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 10) })
	out["total length beyond frame"] = mod(v4, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 1500) })
	out["padding"] = append(append([]byte(nil), v4...), make([]byte, 6)...)
	out["IHL 4"] = mod(v4, func(b []byte) { b[0] = 0x44 })
	out["IHL 6"] = mod(v4, func(b []byte) { b[0] = 0x46 })
	out["IHL 15"] = mod(v4, func(b []byte) { b[0] = 0x4f })
	out["version 5"] = mod(v4, func(b []byte) { b[0] = 0x55 })
	out["TCP offset 4"] = mod(v4, func(b []byte) { b[32] = 0x40 })
	out["TCP offset 15"] = mod(v4, func(b []byte) { b[32] = 0xf0 })
	out["cut TCP header"] = v4[:35]
	out["cut IP header"] = v4[:15]
	out["empty"] = nil
	v6 := capturetest.IPv6(a6, b6, 6, tcp6)
	out["v6"] = v6
	out["v6 payload length 0"] = mod(v6, func(b []byte) { b[4], b[5] = 0, 0 })
	out["v6 payload length short"] = mod(v6, func(b []byte) { b[4], b[5] = 0, 10 })
	out["v6 cut"] = v6[:50]
	out["v6 version 4"] = mod(v6, func(b []byte) { b[0] = 0x40 })
	out["v6 udp"] = capturetest.IPv6(a6, b6, 17, tcp6)
	out["v6 hop-by-hop"] = capturetest.IPv6(a6, b6, 0, capturetest.IPv6Ext(6, tcp6))
	out["v6 atomic fragment"] = capturetest.IPv6(a6, b6, 44, capturetest.IPv6Ext(6, tcp6))
	return out
}

// TestCompileBPF runs the compiled programs in x/net/bpf's VM over many
// frames and checks that they accept exactly what the decoder and
// Filter.Match accept, the documented exceptions aside.
func TestCompileBPF(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	exprs := append([]string(nil), filterExprs...)
	for range 300 {
		exprs = append(exprs, randomExpr(rng, 3))
	}
	frames := testFrames(rng)
	var accepted, rejected int
	defer func() {
		// Guard against a test that passes by accepting or rejecting all.
		if accepted < 10000 || rejected < 10000 {
			t.Errorf("only %d frames accepted and %d rejected in all", accepted, rejected)
		}
	}()
	for _, lk := range bpfLinks {
		for _, expr := range exprs {
			f, err := capture.ParseFilter(expr)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", expr, err)
			}
			raw, err := capture.CompileBPF(f, lk.link, 1000)
			if err != nil {
				t.Fatalf("%s: CompileBPF(%q): %v", lk.name, expr, err)
			}
			prog, _ := bpf.Disassemble(raw)
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatalf("%s: %q: NewVM: %v", lk.name, expr, err)
			}
			for name, ip := range frames {
				if lk.link == 228 && len(ip) > 0 && ip[0]>>4 == 6 {
					continue
				}
				frame := lk.wrap(ip)
				var p capture.Packet
				// The wire length is given as larger than any frame here:
				// the kernel program sees only the captured bytes and
				// cannot tell a snaplen cut from an IP length that lies,
				// so the decoder is compared on the cut reading.
				res, _, _ := capture.DecodeFrame(lk.link, frame, len(frame)+1<<17, &p)
				want := res == "tcp" && f.Match(&p)
				if strings.HasPrefix(name, "v6 hop-by-hop") || strings.HasPrefix(name, "v6 atomic") {
					want = false // documented: extension headers are rejected in the kernel
				}
				n, err := vm.Run(frame)
				if err != nil {
					t.Fatalf("%s: %q: %s: Run: %v", lk.name, expr, name, err)
				}
				if n != 0 {
					accepted++
				} else {
					rejected++
				}
				if got := n != 0; got != want {
					t.Errorf("%s: filter %q, frame %q (%s):\n- want: accept=%v\n-  got: accept=%v", lk.name, expr, name, res, want, got)
				}
				if n != 0 && n != 1000 {
					t.Errorf("%s: %q: %s: snap length: want 1000, got %d", lk.name, expr, name, n)
				}
			}
		}
	}
}

func TestCompileBPFErrors(t *testing.T) {
	f, _ := capture.ParseFilter("port 80")
	_, err := capture.CompileBPF(f, uint32(layers.LinkTypeNull), 0)
	want := "no BPF compiler for link type 0 (unknown); kernel filters are compiled for Ethernet, Linux SLL and SLL2, raw IP"
	if err == nil || err.Error() != want {
		t.Errorf("\n- want: %s\n-  got: %v", want, err)
	}
	// A long expression needs jumps farther than 255 instructions.
	long := strings.Repeat("host 10.0.0.9 or ", 120) + "port 80"
	f, err = capture.ParseFilter(long)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := capture.CompileBPF(f, 1, 0)
	if err != nil {
		t.Fatalf("long filter: %v", err)
	}
	prog, _ := bpf.Disassemble(raw)
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	s := seg(capture.SYN, 0)
	for _, dport := range []uint16{80, 81} {
		s.Dst = netip.AddrPortFrom(s.Dst.Addr(), dport)
		n, _ := vm.Run(capturetest.Frame(layers.LinkTypeEthernet, s))
		if (n != 0) != (dport == 80) {
			t.Errorf("long filter, port %d: accepted %v", dport, n != 0)
		}
	}
	huge := strings.Repeat("host 2001:db8::9 or ", 500) + "port 80"
	f, _ = capture.ParseFilter(huge)
	if _, err := capture.CompileBPF(f, 1, 0); err == nil || !strings.Contains(err.Error(), "filter too long for the kernel") {
		t.Errorf("huge filter:\n- want: filter too long for the kernel\n-  got: %v", err)
	}
}

func TestParseBPFDecimal(t *testing.T) {
	tests := []struct {
		name, text string
		want       []bpf.RawInstruction
		err        string
	}{
		{name: "tcpdump -ddd tcp", text: "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n",
			want: []bpf.RawInstruction{{Op: 40, K: 12}, {Op: 21, Jt: 0, Jf: 1, K: 2048}, {Op: 6, K: 262144}, {Op: 6}}},
		{name: "blank lines and spaces", text: "\n 1 \n\n6  0 0   65535\n\n", want: []bpf.RawInstruction{{Op: 6, K: 65535}}},
		{name: "empty", text: "", err: "empty BPF program text; want the output of tcpdump -ddd"},
		{name: "count not a number", text: "x\n", err: `line 1: want the instruction count (1 to 4096) alone on the first line, as tcpdump -ddd prints it; got "x"`},
		{name: "count zero", text: "0\n", err: `line 1: want the instruction count (1 to 4096) alone on the first line, as tcpdump -ddd prints it; got "0"`},
		{name: "tcpdump -dd form", text: "{ 0x28, 0, 0, 0x0000000c },\n", err: `line 1: want the instruction count (1 to 4096) alone on the first line, as tcpdump -ddd prints it; got "{ 0x28, 0, 0, 0x0000000c },"`},
		{name: "too few", text: "2\n6 0 0 0\n", err: "2 instructions announced, 1 given"},
		{name: "too many", text: "1\n6 0 0 0\n6 0 0 0\n", err: "line 3: more instructions than the 1 announced"},
		{name: "three fields", text: "1\n6 0 0\n", err: `line 2: want four decimal numbers "code jt jf k"; got "6 0 0"`},
		{name: "jt out of range", text: "1\n21 256 0 0\n", err: `line 2: field 2 "256": want a decimal number of at most 8 bits`},
		{name: "negative k", text: "1\n6 0 0 -1\n", err: `line 2: field 4 "-1": want a decimal number of at most 32 bits`},
		{name: "hex", text: "1\n0x6 0 0 0\n", err: `line 2: field 1 "0x6": want a decimal number of at most 16 bits`},
		{name: "fuzz crasher: overlong line", text: "1\n" + strings.Repeat("6", 5000) + "\n", err: "line 2: bufio.Scanner: token too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := capture.ParseBPFDecimal([]byte(tc.text))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("\n- want: %s\n-  got: %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("\n- want: %v\n-  got: %v", tc.want, got)
			}
		})
	}
}

// TestCompileBPFRoundTrip checks that a compiled program survives
// the -ddd round trip: printed the way tcpdump prints it, parsed back.
func TestCompileBPFRoundTrip(t *testing.T) {
	f, _ := capture.ParseFilter("host 10.0.0.1 and port 80")
	raw, err := capture.CompileBPF(f, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", len(raw))
	for _, r := range raw {
		fmt.Fprintf(&b, "%d %d %d %d\n", r.Op, r.Jt, r.Jf, r.K)
	}
	back, err := capture.ParseBPFDecimal([]byte(b.String()))
	if err != nil || fmt.Sprint(back) != fmt.Sprint(raw) {
		t.Errorf("round trip:\n- want: %v\n-  got: %v (%v)", raw, back, err)
	}
}

func FuzzParseBPFDecimal(f *testing.F) {
	f.Add([]byte("4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n"))
	f.Add([]byte("1\n6 0 0 65535"))
	f.Add([]byte("2\n\n6 0 0\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		prog, err := capture.ParseBPFDecimal(text)
		if err != nil {
			return
		}
		if len(prog) == 0 || len(prog) > 4096 {
			t.Fatalf("%d instructions accepted", len(prog))
		}
	})
}

func BenchmarkBPF(b *testing.B) {
	f, _ := capture.ParseFilter("host 10.0.0.1 and (port 80 or portrange 8000-8100) or net 2001:db8::/32")
	raw, _ := capture.CompileBPF(f, 1, 0)
	prog, _ := bpf.Disassemble(raw)
	vm, err := bpf.NewVM(prog)
	if err != nil {
		b.Fatal(err)
	}
	frame := capturetest.Frame(layers.LinkTypeEthernet, seg(capture.ACK, 100))
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		vm.Run(frame)
	}
	b.ReportMetric(float64(len(raw)), "instructions")
}
