package capture_test

import (
	"net/netip"
	"strings"
	"testing"

	"why502/capture"
)

func TestFilter(t *testing.T) {
	pkt := func(src, dst string) *capture.Packet {
		return &capture.Packet{Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst)}
	}
	p4 := pkt("10.0.0.1:40000", "192.168.1.5:80")
	p4b := pkt("192.168.1.5:8080", "10.0.0.1:40001")
	p6 := pkt("[2001:db8::1]:40000", "[2001:db8:1::2]:443")
	pkts := []*capture.Packet{p4, p4b, p6}
	tests := []struct {
		expr string
		want string // one digit per packet: 1 if it matches
	}{
		{"", "111"},
		{"tcp", "111"},
		{"ip", "110"},
		{"ip6", "001"},
		{"host 10.0.0.1", "110"},
		{"src host 10.0.0.1", "100"},
		{"dst host 10.0.0.1", "010"},
		{"src 10.0.0.1", "100"},
		{"host 2001:db8::1", "001"},
		{"host 2001:DB8::1", "001"},
		{"net 192.168.0.0/16", "110"},
		{"net 192.168", "110"},
		{"net 192.168.1", "110"},
		{"net 10", "110"},
		{"src net 192.168.1.0/24", "010"},
		{"dst net 2001:db8:1::/48", "001"},
		{"net 2001:db8::/32", "001"},
		{"port 80", "100"},
		{"src port 8080", "010"},
		{"dst port 80", "100"},
		{"port 80 or 8080", "110"},
		{"port 80 or port 443", "101"},
		{"portrange 8000-9000", "010"},
		{"src portrange 40000-40001", "101"},
		{"dst portrange 40000-40001", "010"},
		{"tcp port 80", "100"},
		{"ip host 10.0.0.1", "110"},
		{"ip6 host 10.0.0.1", "000"},
		{"host 10.0.0.1 or 2001:db8::1", "111"},
		{"host 10.0.0.1 and port 80", "100"},
		{"host 10.0.0.1 && port 80", "100"},
		{"host 10.0.0.1 and not port 80", "010"},
		{"port 80 and not 8080", "100"},
		{"not host 10.0.0.1", "001"},
		{"! host 10.0.0.1", "001"},
		{"!(port 80 || port 443)", "010"},
		{"(port 80 or port 443) and ip6", "001"},
		{"port 443 or port 80 and ip6", "001"}, // tcpdump: and, or equal precedence, left to right
		{"port 80 and ip or ip6", "101"},
		{"not not tcp", "111"},
		{"src 192.168.1.5 and (dst port 40000 or 40001)", "010"},
		{"HOST 10.0.0.1 AND PORT 80", "100"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := capture.ParseFilter(tc.expr)
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			var got strings.Builder
			for _, p := range pkts {
				if f.Match(p) {
					got.WriteByte('1')
				} else {
					got.WriteByte('0')
				}
			}
			if got.String() != tc.want {
				t.Errorf("matches:\n- want: %s\n-  got: %s", tc.want, got.String())
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"udp port 53", `filter "udp port 53": "udp" is not supported: only TCP segments are decoded; supported: host, net, port, portrange, optionally after src or dst; tcp, ip, ip6; and (&&), or (||), not (!), parentheses`},
		{"host example.com", `filter "host example.com": host "example.com": not an IP address (names are not resolved)`},
		{"port http", `filter "port http": port "http": want a number from 0 to 65535 (service names are not supported)`},
		{"port 70000", `filter "port 70000": port "70000": want a number from 0 to 65535 (service names are not supported)`},
		{"portrange 90-80", `filter "portrange 90-80": portrange "90-80": want LOW-HIGH, e.g. 8000-8080`},
		{"net 10.0.0.0/33", `filter "net 10.0.0.0/33": net "10.0.0.0/33": want CIDR notation such as 10.0.0.0/8 or 2001:db8::/32`},
		{"80", `filter "80": unsupported word "80"; supported: host, net, port, portrange, optionally after src or dst; tcp, ip, ip6; and (&&), or (||), not (!), parentheses`},
		{"greater 100", `filter "greater 100": unsupported word "greater"; supported: host, net, port, portrange, optionally after src or dst; tcp, ip, ip6; and (&&), or (||), not (!), parentheses`},
		{"host", `filter "host": host needs a value`},
		{"port 80 and", `filter "port 80 and": expression ends too early`},
		{"(port 80", `filter "(port 80": missing )`},
		{"port 80)", `filter "port 80)": unexpected ")"`},
		{"port 80 port 81", `filter "port 80 port 81": unexpected "port"`},
		{"tcp[13] & 2 != 0", `filter "tcp[13] & 2 != 0": unexpected character '[' at offset 3; supported: host, net, port, portrange, optionally after src or dst; tcp, ip, ip6; and (&&), or (||), not (!), parentheses`},
		{strings.Repeat("(", 100) + "tcp" + strings.Repeat(")", 100), `filter "` + strings.Repeat("(", 100) + "tcp" + strings.Repeat(")", 100) + `": expression nested too deeply`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := capture.ParseFilter(tc.expr)
			if err == nil || err.Error() != tc.want {
				t.Errorf("\n- want: %s\n-  got: %v", tc.want, err)
			}
		})
	}
}

func TestReaderFilter(t *testing.T) {
	f, err := capture.ParseFilter("port 80")
	if err != nil {
		t.Fatal(err)
	}
	s := seg(capture.ACK, 0)
	other := s
	other.Dst = ap("10.0.0.2:443")
	file := capturePcap(rec(0, frameOf(s)), rec(1, frameOf(other)), rec(2, frameOf(s)))
	g := readAll(t, []capture.Source{src("f", file)}, capture.Options{Filter: f})
	if len(g.pkts) != 2 || g.pkts[1].Frame != 3 || g.stats.Filtered != 1 || g.stats.TCP != 3 {
		t.Errorf("\n- want: frames 1 and 3, 1 filtered\n-  got: %d packets, stats %+v", len(g.pkts), g.stats)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"host 10.0.0.1 or 2001:db8::1", "src net 10 and not (port 80 or 8080)",
		"tcp port 80", "ip6 && dst portrange 1-1024 || !ip", "((port 1))", "src 1.2.3.4", "port 80 and not 8080"} {
		f.Add(s)
	}
	p := &capture.Packet{Src: ap("10.0.0.1:80"), Dst: ap("[2001:db8::1]:8080")}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := capture.ParseFilter(expr)
		if err != nil {
			return
		}
		flt.Match(p)
		if flt.String() != expr {
			t.Errorf("String:\n- want: %q\n-  got: %q", expr, flt.String())
		}
	})
}
