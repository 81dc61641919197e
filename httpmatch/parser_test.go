package httpmatch

import (
	"strings"
	"testing"
)

const (
	get = "GET /a HTTP/1.1\r\nHost: app\r\n\r\n"
	// okServer is ok2 with a Server field.
	okServer = "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\nok"
	ok2      = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	created  = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	cl0      = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" // a header to pad
)

// pad returns a header field line, CRLF included, that brings a message
// of n bytes so far to total bytes.
func pad(n, total int) string {
	return "X-Pad: " + strings.Repeat("p", total-n-len("X-Pad: \r\n")) + "\r\n"
}

var parserTests = []struct {
	name string
	opts ParserOptions
	segs []seg
	open bool // not closed at the end
	want []string
}{
	{
		name: "keep-alive, three exchanges",
		segs: []seg{c(get), s(ok2), c("GET /b HTTP/1.1\r\nHost: app\r\n\r\n"), s("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!"),
			c("POST /c HTTP/1.1\r\nHost: app\r\nContent-Length: 4\r\n\r\nbody"), s(created)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#1 GET /b HTTP/1.1 @3-3 host=app | 404 Not Found HTTP/1.1 @4/4/4 length:3",
			"#2 POST /c HTTP/1.1 @5-5 host=app length:4 | 201 Created HTTP/1.1 @6/6/6 length:0",
		},
	},
	{
		// The second message of a half on is kept (headMemo), and a head
		// with the same bytes is not scanned again: its results must be
		// those of a scan, which checkSplits compares against (no head is
		// whole when the bytes come one by one).
		name: "repeated heads",
		segs: []seg{c(get), s(okServer), c(get), s(okServer), c(get), s(okServer),
			c("GET /a HTTP/1.1\r\nHost: apq\r\n\r\n"), s("HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 2\r\n\r\nok"),
			c("GET /a HTTP/1.1\r\nHost: apq\r\n\r\n" + "GET /a HTTP/1.1\r\n\r\n"), s(okServer + "HTTP/1.1 200 OK\r\nServer:\r\nContent-Length: 2\r\n\r\nok"),
			c("GET /a HTTP/1.1\r\nHost: apq\r\n\r\n"), s("HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\nok"),
			c("HEAD /a HTTP/1.1\r\nHost: apq\r\n\r\n"), s("HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\n"),
			c("GET /a HTTP/1.1\r\nHost: apq\r\n\r\n"), s("HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\nok")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2",
			"#2 GET /a HTTP/1.1 @5-5 host=app | 200 OK HTTP/1.1 @6/6/6 length:2",
			"#3 GET /a HTTP/1.1 @7-7 host=apq | 200 OK HTTP/1.1 @8/8/8 length:2",
			"#4 GET /a HTTP/1.1 @9-9 host=apq | 200 OK HTTP/1.1 @10/10/10 length:2",
			"#5 GET /a HTTP/1.1 @9-9 | 200 OK HTTP/1.1 @10/10/10 length:2",
			"#6 GET /a HTTP/1.1 @11-11 host=apq | 200 OK HTTP/1.1 @12/12/12 length:2",
			"#7 - | 200 OK HTTP/1.1 @12/12/12 length:2",
			"#8 HEAD /a HTTP/1.1 @13-13 host=apq | 200 OK HTTP/1.1 @14/14/14",
			"#9 GET /a HTTP/1.1 @15-15 host=apq | 200 OK HTTP/1.1 @16/16/16 length:2",
		},
	},
	{
		name: "pipelining",
		segs: []seg{c(get + "GET /b HTTP/1.1\r\n\r\nHEAD /c HTTP/1.1\r\n\r\n"),
			s(ok2 + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx" + "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#1 GET /b HTTP/1.1 @1-1 | 200 OK HTTP/1.1 @2/2/2 length:1",
			"#2 HEAD /c HTTP/1.1 @1-1 | 200 OK HTTP/1.1 @2/2/2",
		},
	},
	{
		name: "100-continue",
		segs: []seg{c("PUT /up HTTP/1.1\r\nHost: app\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"),
			s("HTTP/1.1 100 Continue\r\n\r\n"), c("hello"), s(created)},
		want: []string{
			"#0 PUT /up HTTP/1.1 @1-3 host=app expect100 length:5 | 201 Created HTTP/1.1 @2/4/4 interim=1x100 length:0",
		},
	},
	{
		name: "103 early hints",
		segs: []seg{c(get), s("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/3/3 interim=1x103 length:2",
		},
	},
	{
		name: "HEAD has no body",
		segs: []seg{c("HEAD /a HTTP/1.1\r\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 HEAD /a HTTP/1.1 @1-1 | 200 OK HTTP/1.1 @2/2/2",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2",
		},
	},
	{
		name: "204 and 304 have no body",
		segs: []seg{c(get), s("HTTP/1.1 204 No Content\r\n\r\n"), c(get), s("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 204 No Content HTTP/1.1 @2/2/2",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 304 Not Modified HTTP/1.1 @4/4/4",
			"#2 GET /a HTTP/1.1 @5-5 host=app | 200 OK HTTP/1.1 @6/6/6 length:2",
		},
	},
	{
		name: "chunked with trailers, both ways",
		segs: []seg{c("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
			s("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 POST /c HTTP/1.1 @1-1 chunked:3 | 200 OK HTTP/1.1 @2/2/2 chunked:11",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2",
		},
	},
	{
		name: "read until close",
		segs: []seg{c("GET / HTTP/1.0\r\n\r\n"), s("HTTP/1.0 200 OK\r\n\r\n"), s("all of it")},
		want: []string{
			"#0 GET / HTTP/1.0 @1-1 | 200 OK HTTP/1.0 @2/2/3 until-close:9 | close",
		},
	},
	{
		name: "Connection: close",
		segs: []seg{c("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), s("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")},
		want: []string{
			"#0 GET / HTTP/1.1 @1-1 conn:close | 200 OK HTTP/1.1 @2/2/2 length:2 conn:close | close",
		},
	},
	{
		name: "HTTP/1.0 keep-alive, then without",
		segs: []seg{c("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), s("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"),
			c("GET /2 HTTP/1.0\r\n\r\n"), s("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")},
		want: []string{
			"#0 GET /1 HTTP/1.0 @1-1 conn:keep-alive | 200 OK HTTP/1.0 @2/2/2 length:2 conn:keep-alive",
			"#1 GET /2 HTTP/1.0 @3-3 | 200 OK HTTP/1.0 @4/4/4 length:2 | close",
		},
	},
	{
		name: "gap in a body, framing continues",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), gapS(4, false), s("hij"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/4 length:10 [body-gap]",
			"#1 GET /a HTTP/1.1 @5-5 host=app | 200 OK HTTP/1.1 @6/6/6 length:2",
		},
	},
	{
		name: "gap to the end of a body",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), gapS(7, false), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:10 [body-gap]",
			"#1 GET /a HTTP/1.1 @4-4 host=app | 200 OK HTTP/1.1 @5/5/5 length:2",
		},
	},
	{
		name: "gap in a chunk",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nab"), gapS(4, false), s("ghij\r\n0\r\n\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/4 chunked:10 [body-gap]",
			"#1 GET /a HTTP/1.1 @5-5 host=app | 200 OK HTTP/1.1 @6/6/6 length:2",
		},
	},
	{
		name: "gap in a header, resync",
		segs: []seg{c(get), s("HTTP/1.1 502 Bad Gateway\r\nContent-Le"), gapS(20, false), s("body!"), c(get), s("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 502 Bad Gateway HTTP/1.1 @2/0/2 [partial]",
			"#1 GET /a HTTP/1.1 @5-5 host=app | 404 Not Found HTTP/1.1 @6/6/6 length:0 skipped=5 [resynced]",
		},
	},
	{
		name: "gap in a request header, resync",
		segs: []seg{c("POST /a HTTP/1.1\r\nHost: app\r\nContent-"), gapC(30), c("xyz"), c("GET /b HTTP/1.1\r\n\r\n"), s(created), s(ok2)},
		want: []string{
			"#0 POST /a HTTP/1.1 @1-1 [partial] | 201 Created HTTP/1.1 @5/5/5 length:0",
			"#1 GET /b HTTP/1.1 @4-4 skipped=3 [resynced] | 200 OK HTTP/1.1 @6/6/6 length:2",
		},
	},
	{
		name: "garbage then a valid response",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2 skipped=5 [resynced]",
		},
	},
	{
		name: "garbage line then a valid response",
		segs: []seg{c(get), s("xx\r\n" + ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 0   @2/0/2 [invalid] preview=\"xx\\r\\n\"",
			"#1 - | 200 OK HTTP/1.1 @2/2/2 length:2",
		},
	},
	{
		name: "not HTTP",
		segs: []seg{c(get), s("HELLO\r\n")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 0   @2/0/2 [invalid] preview=\"HELLO\\r\\n\"",
		},
	},
	{
		name: "not HTTP, no newline, long",
		segs: []seg{c(get), s("\x00\x01\x02" + strings.Repeat("binary", 20))},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 0   @2/0/2 [invalid] preview=\"\\x00\\x01\\x02binarybinarybinarybinarybinarybinarybinarybinarybinarybinaryb\"",
		},
	},
	{
		name: "response without request",
		segs: []seg{s("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")},
		want: []string{
			"#0 - | 408 Request Timeout HTTP/1.1 @1/1/1 length:0 conn:close | close",
		},
	},
	{
		name: "request without response, then close",
		segs: []seg{c(get), s(ok2), c("POST /slow HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#1 POST /slow HTTP/1.1 @3-3 length:2 | -",
		},
	},
	{
		name: "closed mid-body",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:4 [incomplete]",
		},
	},
	{
		name: "closed mid-header",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/0/2 [incomplete]",
		},
	},
	{
		name: "closed mid-status line",
		segs: []seg{c(get), s("HTTP/1.1 50")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 0   @2/0/2 [incomplete]",
		},
	},
	{
		name: "snaplen cut a response header after its status line",
		segs: []seg{c(get), s("HTTP/1.1 503 Service Unavailable\r\nServer: ng"), gapS(1400, true), c(get), s("HTTP/1.1 200 OK\r\nConte"), gapS(1000, true)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 503 Service Unavailable HTTP/1.1 @2/0/2 [partial,snaplen]",
			"#1 GET /a HTTP/1.1 @4-4 host=app | 200 OK HTTP/1.1 @5/0/5 [partial,snaplen]",
		},
	},
	{
		name: "invalid Content-Length",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"), c(get), s(ok2),
			c("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), s(created)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 [bad-framing]",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2 skipped=2 [resynced]",
			"#2 POST / HTTP/1.1 @5-5 [bad-framing] | 201 Created HTTP/1.1 @6/6/6 length:0",
		},
	},
	{
		name: "repeated equal Content-Length",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
		},
	},
	{
		name: "chunk size overflow",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nxx"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 chunked:0 [bad-framing]",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2 skipped=2 [resynced]",
		},
	},
	{
		name: "CONNECT tunnel",
		segs: []seg{c("CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"), s("HTTP/1.1 200 Connection Established\r\n\r\n"), c("\x16\x03\x01binary"), s("\x16\x03\x03more")},
		want: []string{
			"#0 CONNECT db:5432 HTTP/1.1 @1-1 host=db:5432 | 200 Connection Established HTTP/1.1 @2/2/2 tunnel:0",
		},
	},
	{
		name: "header too large",
		opts: ParserOptions{MaxHeaderBytes: 1024},
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 1100) + "\r\n\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/0/2 [too-large]",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2 skipped=104 [resynced]",
		},
	},
	{
		name: "midstream",
		opts: ParserOptions{Midstream: true},
		segs: []seg{c("dy of a post\r\n"), s("TP/1.1 200 OK\r\n\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @3-3 host=app skipped=14 [resynced] | 200 OK HTTP/1.1 @4/4/4 length:2 skipped=17 [resynced]",
		},
	},
	{
		name: "early response waits for the request's end",
		segs: []seg{c("POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), s("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"), c("defghij"), c(get), s(ok2)},
		want: []string{
			"#0 POST /up HTTP/1.1 @1-3 length:10 | 413 Payload Too Large HTTP/1.1 @2/2/2 length:0",
			"#1 GET /a HTTP/1.1 @4-4 host=app | 200 OK HTTP/1.1 @5/5/5 length:2",
		},
	},
	{
		name: "101 switching protocols",
		segs: []seg{c("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), s("HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello"), c("\x81\x85mask")},
		want: []string{
			"#0 GET /ws HTTP/1.1 @1-1 | 101 Switching Protocols HTTP/1.1 @2/2/2 tunnel:0",
		},
	},
	{
		name: "bare LF line endings",
		segs: []seg{c("GET /a HTTP/1.1\nHost: app\n\n"), s("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 chunked:2",
		},
	},
	{
		name: "empty lines between messages",
		segs: []seg{c(get + "\r\n"), s(ok2 + "\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 length:2",
		},
	},
	{
		name: "interim then close",
		segs: []seg{c("POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"), s("HTTP/1.1 100 Continue\r\n\r\n"), c("x")},
		want: []string{
			"#0 POST /a HTTP/1.1 @1-3 expect100 length:1 | 0   @2/0/2 interim=1x100 [incomplete]",
		},
	},
	{
		name: "request line not HTTP",
		segs: []seg{c("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), s("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")},
		want: []string{
			"#0    @1-1 [invalid] preview=\"\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03\" | 400 Bad Request HTTP/1.1 @2/2/2 until-close:0 conn:close | close",
		},
	},
	{
		name: "pipelining beyond MaxPending",
		opts: ParserOptions{MaxPending: 2},
		segs: []seg{c(get + get + get), s(ok2 + ok2 + ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | -",
			"#1 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#2 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#3 - | 200 OK HTTP/1.1 @2/2/2 length:2",
		},
	},
	{
		name: "fuzz crasher: status line with bare LF completed in the lookahead",
		segs: []seg{s(strings.Repeat("0", 86)), s("HTTP/1.0 100\n")},
		want: []string{
			"#0 - | 0   @1/0/1 [invalid] preview=\"0000000000000000000000000000000000000000000000000000000000000000\"",
			"#1 - | 0   @2/0/2 interim=1x100 skipped=22 [incomplete,resynced]",
		},
	},
	{
		name: "fuzz crasher: multi-byte UTF-8 in a preview",
		segs: []seg{c("\xd8\xa30")},
		want: []string{
			"#0    @1-1 [invalid] preview=\"\\u06230\" | -",
		},
	},
	// Header blocks that one Data call parses in place, and that split
	// ones parse through the half's buffer: the same exchanges either way.
	{
		name: "CRLF, body and the next request in the same segment",
		segs: []seg{c("POST /a HTTP/1.1\r\nHost: app\r\nContent-Length: 3\r\n\r\nabc" + get), s(created + created)},
		want: []string{
			"#0 POST /a HTTP/1.1 @1-1 host=app length:3 | 201 Created HTTP/1.1 @2/2/2 length:0",
			"#1 GET /a HTTP/1.1 @1-1 host=app | 201 Created HTTP/1.1 @2/2/2 length:0",
		},
	},
	{
		name: "bare LF and mixed line ends",
		segs: []seg{c("GET /a HTTP/1.1\nHost: app\r\nConnection: close\n\r\n"), s("HTTP/1.1 200 OK\r\nContent-Length: 2\n\nok")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app conn:close | 200 OK HTTP/1.1 @2/2/2 length:2 | close",
		},
	},
	{
		name: "CR alone is not a line end",
		segs: []seg{c("GET /a HTTP/1.1\r\nHost: app\r\r\n\r\n"), s("HTTP/1.1 200 OK\r\nX: 1\r\r\nContent-Length: 2\r\n\r\nok")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app\r | 200 OK HTTP/1.1 @2/2/2 length:2",
		},
	},
	{
		name: "empty header block",
		segs: []seg{c("GET /a HTTP/1.1\r\n\r\n"), s("HTTP/1.1 204 No Content\n\n")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 | 204 No Content HTTP/1.1 @2/2/2",
		},
	},
	{
		name: "obs-fold and lines without a colon",
		segs: []seg{c("GET /a HTTP/1.1\r\nHost: app\r\n folded: Host: other\r\nno colon\r\n: empty name\r\n\r\n"), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
		},
	},
	{
		name: "bad field names",
		segs: []seg{c("GET /a HTTP/1.1\r\nHost : app\r\n\r\n"), s("HTTP/1.1 200 OK\r\nX\x00Y: 1\r\nContent-Length: 2\r\n\r\nok")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 [bad-header] | 200 OK HTTP/1.1 @2/2/2 length:2 [bad-header]",
		},
	},
	{
		name: "NUL in a value, not in a folded line or a body",
		segs: []seg{c("GET /a HTTP/1.1\r\nHost: a\x00p\r\n\r\n"), s("HTTP/1.1 200 OK\r\nX: 1\r\n \x00fold\r\nContent-Length: 2\r\n\r\n\x00k")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=a\x00p [bad-header] | 200 OK HTTP/1.1 @2/2/2 length:2",
		},
	},
	{
		name: "duplicate Content-Length",
		segs: []seg{c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nok"),
			c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/4/4 [bad-framing]",
		},
	},
	{
		// A block that ends at the bound is read; one that does not is
		// cut there, and what is left of it skipped.
		name: "MaxHeaderBytes: at the bound, one byte over, the empty line over",
		opts: ParserOptions{MaxHeaderBytes: 1024},
		segs: []seg{c(get), s(cl0 + pad(len(cl0), 1022) + "\r\n"), c(get), s(cl0 + pad(len(cl0), 1023) + "\r\n"),
			c(get), s(cl0 + pad(len(cl0), 1024) + "\r\n"), c(get), s(ok2)},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:0",
			"#1 GET /a HTTP/1.1 @3-3 host=app | 200 OK HTTP/1.1 @4/0/4 [too-large]",
			"#2 GET /a HTTP/1.1 @5-5 host=app | 200 OK HTTP/1.1 @6/0/6 skipped=1 [too-large,resynced]",
			"#3 GET /a HTTP/1.1 @7-7 host=app | 200 OK HTTP/1.1 @8/8/8 length:2 skipped=2 [resynced]",
		},
	},
	{
		name: "CRLFCRLF straddles two segments",
		segs: []seg{c("GET /a HTTP/1.1\r\nHost: app\r\n\r"), c("\nGET /b HTTP/1.1\r\n\r\n"), s(ok2 + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"), s("\r\nx")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-2 host=app | 200 OK HTTP/1.1 @3/3/3 length:2",
			"#1 GET /b HTTP/1.1 @2-2 | 200 OK HTTP/1.1 @3/4/4 length:1",
		},
	},
	{
		name: "header block ends in a later segment",
		segs: []seg{c("GET /a HTTP/1.1\r\nHost: app\r\n"), c("Connection: close\r\n"), c("\r\n"), s("HTTP/1.1 200 OK\r\nServer: x\r\n"), s("Content-Length: 2\r\n\r\nok")},
		want: []string{
			"#0 GET /a HTTP/1.1 @1-3 host=app conn:close | 200 OK HTTP/1.1 @4/5/5 length:2 | close",
		},
	},
	{
		name: "open: nothing flushed",
		segs: []seg{c(get), s(ok2), c(get)},
		open: true,
		want: []string{
			"#0 GET /a HTTP/1.1 @1-1 host=app | 200 OK HTTP/1.1 @2/2/2 length:2",
		},
	},
}

func TestConnParser(t *testing.T) {
	for _, tt := range parserTests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkSplits(t, tt.opts, tt.segs, tt.open)
			gotLines := make([]string, len(got))
			for i, e := range got {
				gotLines[i] = render(e)
			}
			if strings.Join(gotLines, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("exchanges:\n- want: %s\n-  got: %s", strings.Join(tt.want, "\n        "), strings.Join(gotLines, "\n        "))
			}
		})
	}
}
