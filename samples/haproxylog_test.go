package samples

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseHAProxyLine(t *testing.T) {
	ts := time.Date(2026, 11, 26, 12, 46, 19, 298e6, time.UTC)
	tests := []struct {
		name string
		line string
		want HAProxyLine
		err  bool
	}{
		{
			name: "refused, two retries",
			line: `1795697179.298 127.0.0.1:57890 fe refused/gone 127.0.0.1:18099 127.0.0.1:58514 0/0/-1/-1/2005 503 217 SC 1/1/0/0/2 "GET /refused/x HTTP/1.1"`,
			want: HAProxyLine{Time: ts, Client: netip.MustParseAddrPort("127.0.0.1:57890"), Frontend: "fe", Backend: "refused", Server: "gone",
				ServerAddr: netip.MustParseAddrPort("127.0.0.1:18099"), Local: netip.MustParseAddrPort("127.0.0.1:58514"),
				Timers: HAProxyTimers{0, 0, -1, -1, 2005}, Status: 503, Bytes: 217, Termination: "SC", Retries: 2, Request: "GET /refused/x HTTP/1.1"},
		},
		{
			name: "server closed before the response header",
			line: `1795697179.298 127.0.0.1:57858 fe be/app 127.0.0.1:18081 127.0.0.1:58106 0/0/0/-1/301 502 209 SH 1/1/0/0/0 "GET /slow HTTP/1.1"`,
			want: HAProxyLine{Time: ts, Client: netip.MustParseAddrPort("127.0.0.1:57858"), Frontend: "fe", Backend: "be", Server: "app",
				ServerAddr: netip.MustParseAddrPort("127.0.0.1:18081"), Local: netip.MustParseAddrPort("127.0.0.1:58106"),
				Timers: HAProxyTimers{0, 0, 0, -1, 301}, Status: 502, Bytes: 209, Termination: "SH", Request: "GET /slow HTTP/1.1"},
		},
		{
			name: "IPv6 addresses are not bracketed",
			line: `1795697179.298 ::1:40000 fe be/app ::1:18081 ::1:40002 0/0/0/-1/1002 504 198 sH 1/1/0/0/0 "GET /hang HTTP/1.1"`,
			want: HAProxyLine{Time: ts, Client: netip.MustParseAddrPort("[::1]:40000"), Frontend: "fe", Backend: "be", Server: "app",
				ServerAddr: netip.MustParseAddrPort("[::1]:18081"), Local: netip.MustParseAddrPort("[::1]:40002"),
				Timers: HAProxyTimers{0, 0, 0, -1, 1002}, Status: 504, Bytes: 198, Termination: "sH", Request: "GET /hang HTTP/1.1"},
		},
		{
			name: "no server: addresses are dashes",
			line: `1795697179.298 127.0.0.1:1 fe be/<NOSRV> - - 0/-1/-1/-1/0 503 217 SC 1/1/0/0/0 "GET / HTTP/1.1"`,
			want: HAProxyLine{Time: ts, Client: netip.MustParseAddrPort("127.0.0.1:1"), Frontend: "fe", Backend: "be", Server: "<NOSRV>",
				Timers: HAProxyTimers{0, -1, -1, -1, 0}, Status: 503, Bytes: 217, Termination: "SC", Request: "GET / HTTP/1.1"},
		},
		{name: "too few fields", line: `1795697179.298 127.0.0.1:1 fe be/app`, err: true},
		{name: "termination state of one letter", line: `1795697179.298 127.0.0.1:1 fe be/app - - 0/0/0/0/0 200 1 S 1/1/0/0/0 "GET / HTTP/1.1"`, err: true},
		{name: "four timers", line: `1795697179.298 127.0.0.1:1 fe be/app - - 0/0/0/0 200 1 -- 1/1/0/0/0 "GET / HTTP/1.1"`, err: true},
		{name: "no slash between backend and server", line: `1795697179.298 127.0.0.1:1 fe be - - 0/0/0/0/0 200 1 -- 1/1/0/0/0 "GET / HTTP/1.1"`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, ParseHAProxyLine, tt.line, tt.want, tt.err) })
	}
}

func TestParseHAProxyLogSkipsNotices(t *testing.T) {
	log := `1795697177.384 127.0.0.1:57852 fe be/app 127.0.0.1:18081 127.0.0.1:58102 0/0/0/1/1 200 121 -- 1/1/0/0/0 "GET /ok HTTP/1.1"
Proxy fe stopped (cumulated conns: FE: 6, BE: 0).

1795697177.688 127.0.0.1:57858 fe be/app 127.0.0.1:18081 127.0.0.1:58106 0/0/0/-1/301 502 209 SH 1/1/0/0/0 "GET /slow HTTP/1.1"
`
	lines, err := ParseHAProxyLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[1].Termination != "SH" || !lines[1].ServerAborted() || lines[1].Phase() != 'H' {
		t.Fatalf("got %+v", lines)
	}
}

func FuzzParseHAProxyLine(f *testing.F) {
	f.Add(`1795697179.298 127.0.0.1:57890 fe refused/gone 127.0.0.1:18099 127.0.0.1:58514 0/0/-1/-1/2005 503 217 SC 1/1/0/0/2 "GET /refused/x HTTP/1.1"`)
	f.Add(`1.0 ::1:1 f b/<NOSRV> -:- - +1/0/0/0/0 0 0 -- 0/0/0/0/0 ""`)
	f.Fuzz(func(t *testing.T, line string) {
		h, err := ParseHAProxyLine(line)
		if err == nil && len(h.Termination) != 2 {
			t.Fatalf("termination %q from %q", h.Termination, line)
		}
	})
}
