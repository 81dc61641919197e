package samples

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseCaddyLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want CaddyLine
		err  bool
	}{
		{
			name: "roundtrip refused",
			line: `{"level":"debug","ts":1795697189.632414,"logger":"http.handlers.reverse_proxy","msg":"upstream roundtrip","upstream":"127.0.0.1:18099","duration":0.000211086,"request":{"remote_ip":"127.0.0.1","remote_port":"55548","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:18080","uri":"/refused/x","headers":{"User-Agent":["Go-http-client/1.1"]}},"error":"dial tcp 127.0.0.1:18099: connect: connection refused"}`,
			want: CaddyLine{Time: time.Date(2026, 11, 26, 12, 46, 29, 632414000, time.UTC), Level: "debug", Logger: "http.handlers.reverse_proxy",
				Msg: "upstream roundtrip", Entry: CaddyRoundTrip, Method: "GET", URI: "/refused/x", Host: "127.0.0.1:18080",
				Client: netip.MustParseAddrPort("127.0.0.1:55548"), Duration: 211086 * time.Nanosecond,
				Upstream: "127.0.0.1:18099", UpstreamAddr: netip.MustParseAddrPort("127.0.0.1:18099"),
				Err: "dial tcp 127.0.0.1:18099: connect: connection refused", Kind: KindRefused},
		},
		{
			name: "error line EOF",
			line: `{"level":"error","ts":1795697188.3243904,"logger":"http.log.error.log0","msg":"EOF","request":{"remote_ip":"::1","remote_port":"55526","proto":"HTTP/1.1","method":"GET","host":"[::1]:18080","uri":"/slow","headers":{}},"duration":0.5,"status":502,"err_id":"rpsnhhj1m","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}`,
			want: CaddyLine{Time: time.Date(2026, 11, 26, 12, 46, 28, 324390000, time.UTC), Level: "error", Logger: "http.log.error.log0",
				Msg: "EOF", Entry: CaddyError, Method: "GET", URI: "/slow", Host: "[::1]:18080",
				Client: netip.MustParseAddrPort("[::1]:55526"), Status: 502, Duration: 500 * time.Millisecond, Err: "EOF", Kind: KindPrematurelyClosed},
		},
		{
			name: "selected upstream, IPv6 dial address",
			line: `{"level":"debug","ts":1795697187.5,"logger":"http.handlers.reverse_proxy","msg":"selected upstream","dial":"[::1]:18081","total_upstreams":1}`,
			want: CaddyLine{Time: time.Date(2026, 11, 26, 12, 46, 27, 500000000, time.UTC), Level: "debug", Logger: "http.handlers.reverse_proxy",
				Msg: "selected upstream", Entry: CaddySelected, Upstream: "[::1]:18081", UpstreamAddr: netip.MustParseAddrPort("[::1]:18081")},
		},
		{
			name: "access line",
			line: `{"level":"info","ts":1795697187.25,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"1","method":"POST","host":"h","uri":"/ok"},"duration":0.25,"size":16,"status":200}`,
			want: CaddyLine{Time: time.Date(2026, 11, 26, 12, 46, 27, 250000000, time.UTC), Level: "info", Logger: "http.log.access.log0",
				Msg: "handled request", Entry: CaddyAccess, Method: "POST", URI: "/ok", Host: "h",
				Client: netip.MustParseAddrPort("127.0.0.1:1"), Status: 200, Duration: 250 * time.Millisecond},
		},
		{name: "not JSON", line: `2026/11/26 12:46:27 caddy says hi`, err: true},
		{name: "ts out of range", line: `{"ts":1e300}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, ParseCaddyLine, tt.line, tt.want, tt.err) })
	}
}

func TestClassifyGoError(t *testing.T) {
	tests := []struct {
		err  string
		want ErrorKind
	}{
		{"dial tcp 127.0.0.1:18099: connect: connection refused", KindRefused},
		{"dial tcp 10.0.0.9:80: connect: no route to host", KindUnreachable},
		{"dial tcp 10.0.0.9:80: i/o timeout", KindConnectTimeout},
		{"read tcp 127.0.0.1:33308->127.0.0.1:18081: read: connection reset by peer", KindReset},
		{"EOF", KindPrematurelyClosed},
		{"unexpected EOF", KindPrematurelyClosed},
		{"net/http: timeout awaiting response headers", KindReadTimeout},
		{`net/http: HTTP/1.x transport connection broken: malformed HTTP response "SSH-2.0-NotHTTP"`, KindNoValidHeader},
		{`net/http: HTTP/1.x transport connection broken: malformed MIME header line: Bad`, KindInvalidHeader},
		{"no upstreams available", KindNoLiveUpstreams},
		{"context canceled", KindOther},
	}
	for _, tt := range tests {
		t.Run(tt.err, func(t *testing.T) {
			if got := classifyGoError(tt.err); got != tt.want {
				t.Errorf("\n- want: %v\n-  got: %v", tt.want, got)
			}
		})
	}
}

func TestParseCaddyLogNamesTheLine(t *testing.T) {
	_, err := ParseCaddyLog(strings.NewReader("{\"ts\":1}\n\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("want an error naming line 3, got %v", err)
	}
}

func FuzzParseCaddyLine(f *testing.F) {
	f.Add(`{"level":"debug","ts":1795697189.632414,"logger":"http.handlers.reverse_proxy","msg":"upstream roundtrip","upstream":"127.0.0.1:18099","error":"dial tcp 127.0.0.1:18099: connect: connection refused"}`)
	f.Add(`{"ts":-1,"request":{"remote_ip":"::1","remote_port":"99999"}}`)
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCaddyLine(line)
		if err == nil && c.UpstreamAddr.IsValid() && c.Upstream == "" {
			t.Fatalf("address %v without an upstream in %q", c.UpstreamAddr, line)
		}
	})
}
