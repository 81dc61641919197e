package samples

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseErrorLine(t *testing.T) {
	ts := time.Date(2026, 11, 26, 12, 16, 44, 0, time.UTC)
	tests := []struct {
		name string
		line string
		want ErrorLine
		err  bool
	}{
		{
			name: "prematurely closed",
			line: `2026/11/26 12:16:44 [error] 6419#6419: *1 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /slow HTTP/1.1", upstream: "http://127.0.0.1:18081/slow", host: "127.0.0.1:18080"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 6419, TID: 6419, Conn: 1,
				Text: "upstream prematurely closed connection while reading response header from upstream", Kind: KindPrematurelyClosed,
				Client: "127.0.0.1", Request: "GET /slow HTTP/1.1", Upstream: "http://127.0.0.1:18081/slow", Host: "127.0.0.1:18080",
				UpstreamAddr: netip.MustParseAddrPort("127.0.0.1:18081")},
		},
		{
			name: "refused",
			line: `2026/11/26 12:16:44 [error] 6419#6419: *8 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused/x HTTP/1.1", upstream: "http://127.0.0.1:18099/refused/x", host: "127.0.0.1:18080"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 6419, TID: 6419, Conn: 8,
				Text: "connect() failed (111: Connection refused) while connecting to upstream", Kind: KindRefused,
				Client: "127.0.0.1", Request: "GET /refused/x HTTP/1.1", Upstream: "http://127.0.0.1:18099/refused/x", Host: "127.0.0.1:18080",
				UpstreamAddr: netip.MustParseAddrPort("127.0.0.1:18099")},
		},
		{
			name: "reset, IPv6 upstream",
			line: `2026/11/26 12:16:44 [error] 7#7: *4 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: ::1, server: , request: "GET /reset HTTP/1.1", upstream: "http://[::1]:18081/reset", host: "[::1]:18080"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 7, TID: 7, Conn: 4,
				Text: "recv() failed (104: Connection reset by peer) while reading response header from upstream", Kind: KindReset,
				Client: "::1", Request: "GET /reset HTTP/1.1", Upstream: "http://[::1]:18081/reset", Host: "[::1]:18080",
				UpstreamAddr: netip.MustParseAddrPort("[::1]:18081")},
		},
		{
			name: "read timeout",
			line: `2026/11/26 12:16:44 [error] 1#1: *8 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.2, server: , request: "GET /hang HTTP/1.1", upstream: "http://10.0.0.3:80/hang", host: "x"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 1, TID: 1, Conn: 8,
				Text: "upstream timed out (110: Connection timed out) while reading response header from upstream", Kind: KindReadTimeout,
				Client: "10.0.0.2", Request: "GET /hang HTTP/1.1", Upstream: "http://10.0.0.3:80/hang", Host: "x",
				UpstreamAddr: netip.MustParseAddrPort("10.0.0.3:80")},
		},
		{
			name: "connect timeout",
			line: `2026/11/26 12:16:44 [error] 1#1: *8 upstream timed out (110: Connection timed out) while connecting to upstream, client: 10.0.0.2, server: , request: "GET /dead/x HTTP/1.1", upstream: "http://10.0.0.4:80/dead/x", host: "x"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 1, TID: 1, Conn: 8,
				Text: "upstream timed out (110: Connection timed out) while connecting to upstream", Kind: KindConnectTimeout,
				Client: "10.0.0.2", Request: "GET /dead/x HTTP/1.1", Upstream: "http://10.0.0.4:80/dead/x", Host: "x",
				UpstreamAddr: netip.MustParseAddrPort("10.0.0.4:80")},
		},
		{
			name: "invalid header with quotes and escapes in the message",
			line: `2026/11/26 12:16:44 [error] 1#1: *8 upstream sent invalid header: "Bad\x00..." while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /badheader HTTP/1.1", upstream: "http://127.0.0.1:18081/badheader", host: "h"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 1, TID: 1, Conn: 8,
				Text: `upstream sent invalid header: "Bad\x00..." while reading response header from upstream`, Kind: KindInvalidHeader,
				Client: "127.0.0.1", Request: "GET /badheader HTTP/1.1", Upstream: "http://127.0.0.1:18081/badheader", Host: "h",
				UpstreamAddr: netip.MustParseAddrPort("127.0.0.1:18081")},
		},
		{
			name: "no valid header, request line with a comma and a quote",
			line: `2026/11/26 12:16:44 [error] 1#1: *3 upstream sent no valid HTTP/1.0 header while reading response header from upstream, client: 127.0.0.1, server: example, request: "GET /a, "b" HTTP/1.1", upstream: "http://127.0.0.1:1/a", host: "h", referrer: "r"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 1, TID: 1, Conn: 3,
				Text: "upstream sent no valid HTTP/1.0 header while reading response header from upstream", Kind: KindNoValidHeader,
				Client: "127.0.0.1", Server: "example", Request: `GET /a, "b" HTTP/1.1`, Upstream: "http://127.0.0.1:1/a", Host: "h",
				UpstreamAddr: netip.MustParseAddrPort("127.0.0.1:1")},
		},
		{
			name: "no live upstreams, upstream group name",
			line: `2026/11/26 12:16:44 [error] 1#1: *9 no live upstreams while connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "http://backend/", host: "h"`,
			want: ErrorLine{Time: ts, Level: "error", PID: 1, TID: 1, Conn: 9,
				Text: "no live upstreams while connecting to upstream", Kind: KindNoLiveUpstreams,
				Client: "127.0.0.1", Request: "GET / HTTP/1.1", Upstream: "http://backend/", Host: "h"},
		},
		{
			name: "notice without connection or context",
			line: `2026/11/26 12:16:44 [notice] 6417#6417: start worker process 6419`,
			want: ErrorLine{Time: ts, Level: "notice", PID: 6417, TID: 6417, Text: "start worker process 6419"},
		},
		{
			name: "info, client side",
			line: `2026/11/26 12:16:44 [info] 6419#6419: *8 client 127.0.0.1 closed keepalive connection`,
			want: ErrorLine{Time: ts, Level: "info", PID: 6419, TID: 6419, Conn: 8, Text: "client 127.0.0.1 closed keepalive connection"},
		},
		{name: "empty", line: "", err: true},
		{name: "bad timestamp", line: "2026-11-26 12:16:44 [error] 1#1: x", err: true},
		{name: "no level", line: "2026/11/26 12:16:44 error 1#1: x", err: true},
		{name: "no pid", line: "2026/11/26 12:16:44 [error] x", err: true},
		{name: "bad connection number", line: "2026/11/26 12:16:44 [error] 1#1: *x y", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, ParseErrorLine, tt.line, tt.want, tt.err) })
	}
}

func TestParseAccessLine(t *testing.T) {
	ms := func(s string) time.Duration { d, _ := time.ParseDuration(s); return d }
	tests := []struct {
		name string
		line string
		want AccessLine
		err  bool
	}{
		{
			name: "one try",
			line: `1795695404.333 127.0.0.1:36214 1 2 "GET /ok?size=20000 HTTP/1.1" 200 20000 "127.0.0.1:18081" "200" "0.000" "0.001" 0.002`,
			want: AccessLine{Time: time.UnixMilli(1795695404333).UTC(), Client: netip.MustParseAddrPort("127.0.0.1:36214"),
				Conn: 1, ConnRequests: 2, Request: "GET /ok?size=20000 HTTP/1.1", Status: 200, BodyBytes: 20000, RequestTime: ms("2ms"),
				Tries: []UpstreamTry{{Addr: "127.0.0.1:18081", Status: 200, Connected: true, ResponseTime: ms("1ms"), HasResponseTime: true}}},
		},
		{
			name: "retried, second connect failed, IPv6 client",
			line: `1795695407.143 ::1:36228 8 5 "GET /exit HTTP/1.1" 502 157 "[::1]:18081, [::1]:18081" "502, 502" "0.000, -" "0.001, 0.000" 0.001`,
			want: AccessLine{Time: time.UnixMilli(1795695407143).UTC(), Client: netip.MustParseAddrPort("[::1]:36228"),
				Conn: 8, ConnRequests: 5, Request: "GET /exit HTTP/1.1", Status: 502, BodyBytes: 157, RequestTime: ms("1ms"),
				Tries: []UpstreamTry{
					{Addr: "[::1]:18081", Status: 502, Connected: true, ResponseTime: ms("1ms"), HasResponseTime: true},
					{Addr: "[::1]:18081", Status: 502, ResponseTime: 0, HasResponseTime: true},
				}},
		},
		{
			name: "no upstream",
			line: `1795695407.143 127.0.0.1:1 2 1 "GET / HTTP/1.1" 404 10 "-" "-" "-" "-" 0.000`,
			want: AccessLine{Time: time.UnixMilli(1795695407143).UTC(), Client: netip.MustParseAddrPort("127.0.0.1:1"),
				Conn: 2, ConnRequests: 1, Request: "GET / HTTP/1.1", Status: 404, BodyBytes: 10},
		},
		{
			name: "internal redirect between groups",
			line: `1.5 127.0.0.1:1 2 1 "GET / HTTP/1.1" 200 1 "a:1 : b:2" "502 : 200" "- : 0.001" "0.000 : 0.002" 0.003`,
			want: AccessLine{Time: time.Unix(1, 5e8).UTC(), Client: netip.MustParseAddrPort("127.0.0.1:1"),
				Conn: 2, ConnRequests: 1, Request: "GET / HTTP/1.1", Status: 200, BodyBytes: 1, RequestTime: ms("3ms"),
				Tries: []UpstreamTry{
					{Addr: "a:1", Status: 502, HasResponseTime: true},
					{Addr: "b:2", Status: 200, Connected: true, ConnectTime: ms("1ms"), ResponseTime: ms("2ms"), HasResponseTime: true},
				}},
		},
		{name: "empty", line: "", err: true},
		{name: "too few fields", line: `1.0 127.0.0.1:1 1 1 "GET / HTTP/1.1" 200`, err: true},
		{name: "unterminated quote", line: `1.0 127.0.0.1:1 1 1 "GET / HTTP/1.1 200 1 "-" "-" "-" "-" 0`, err: true},
		{name: "tries disagree", line: `1.0 127.0.0.1:1 1 1 "GET /" 502 1 "a:1, a:1" "502" "0.000" "0.000" 0.1`, err: true},
		{name: "bad remote", line: `1.0 127.0.0.1 1 1 "GET /" 502 1 "-" "-" "-" "-" 0.1`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, ParseAccessLine, tt.line, tt.want, tt.err) })
	}
}

func FuzzParseErrorLine(f *testing.F) {
	f.Add(`2026/11/26 12:16:44 [error] 6419#6419: *1 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /slow HTTP/1.1", upstream: "http://127.0.0.1:18081/slow", host: "127.0.0.1:18080"`)
	f.Add(`2026/11/26 12:16:44 [notice] 1#1: x, client: , server: , request: ", upstream: ", host: "`)
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseErrorLine(line)
		if err == nil && !strings.Contains(line, e.Text) {
			t.Fatalf("message %q is not part of the line %q", e.Text, line)
		}
	})
}

func FuzzParseAccessLine(f *testing.F) {
	f.Add(`1795695407.143 ::1:36228 8 5 "GET /exit HTTP/1.1" 502 157 "[::1]:18081, [::1]:18081" "502, 502" "0.000, -" "0.001, 0.000" 0.001`)
	f.Add(`1.0 127.0.0.1:1 1 1 "" 0 0 "" "" "" "" 0`)
	f.Fuzz(func(t *testing.T, line string) {
		a, err := ParseAccessLine(line)
		if err == nil && a.Status < 0 {
			t.Fatalf("negative status from %q", line)
		}
	})
}

// checkParse runs one row of a log-line parser's table: an error when
// wantErr, else exactly want.
func checkParse[T any](t *testing.T, parse func(string) (T, error), line string, want T, wantErr bool) {
	t.Helper()
	got, err := parse(line)
	if wantErr {
		if err == nil {
			t.Fatalf("no error for %q; got %+v", line, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n- want: %+v\n-  got: %+v", want, got)
	}
}
