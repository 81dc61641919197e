package httpmatch

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name  string
		block string
		want  headerInfo
	}{
		{"empty", "\r\n", headerInfo{}},
		{"length", "Content-Length: 42\r\n\r\n", headerInfo{length: 42, hasLength: true}},
		{"equal list", "Content-Length: 7, 7\r\ncontent-length:7\r\n\r\n", headerInfo{length: 7, hasLength: true}},
		{"conflicting", "Content-Length: 7\r\nContent-Length: 8\r\n\r\n", headerInfo{length: 7, hasLength: true, badLength: true}},
		{"negative", "Content-Length: -1\r\n\r\n", headerInfo{badLength: true}},
		{"not a number", "Content-Length: 1e3\r\n\r\n", headerInfo{badLength: true}},
		{"empty value", "Content-Length: \r\n\r\n", headerInfo{badLength: true}},
		{"overflow", "Content-Length: 9223372036854775808\r\n\r\n", headerInfo{badLength: true}},
		{"max int64", "Content-Length: 9223372036854775807\r\n\r\n", headerInfo{length: 1<<63 - 1, hasLength: true}},
		{"chunked last", "Transfer-Encoding: gzip, Chunked\r\n\r\n", headerInfo{te: true, chunked: true}},
		{"chunked not last", "Transfer-Encoding: chunked, gzip\r\n\r\n", headerInfo{te: true}},
		{"connection tokens", "Connection: Keep-Alive, Upgrade\r\nConnection: close\r\n\r\n", headerInfo{close: true, keepAlive: true}},
		{"expect", "Expect: 100-Continue\r\n\r\n", headerInfo{expect100: true}},
		{"obs-fold and junk ignored", "X-A: 1\r\n folded\r\nno colon\r\n: empty name\r\n\r\n", headerInfo{}},
		{"names and values in other cases", "HOST: h\r\ncontent-LENGTH: 3\r\nCONNECTION: Close\r\nSERVER: s\r\n\r\n", headerInfo{server: []byte("s"), length: 3, hasLength: true, close: true}},
		{"connection keep-alive alone", "Connection: keep-alive\r\n\r\n", headerInfo{keepAlive: true}},
		{"connection close alone", "Connection: close\r\n\r\n", headerInfo{close: true}},
		{"connection with OWS", "Connection:\t keep-alive \r\n\r\n", headerInfo{keepAlive: true}},
		{"length with leading zeros", "Content-Length: 007\r\n\r\n", headerInfo{length: 7, hasLength: true}},
		{"length with a sign", "Content-Length: +7\r\n\r\n", headerInfo{badLength: true}},
		{"length list then other length", "Content-Length: 7,7\r\nContent-Length: 8\r\n\r\n", headerInfo{length: 7, hasLength: true, badLength: true}},
		{"NUL in a value", "X-A: a\x00b\r\n\r\n", headerInfo{badField: true}},
		{"NUL in a long value", "X-A: " + strings.Repeat("v", 40) + "\x00\r\n\r\n", headerInfo{badField: true}},
		{"NUL in a name", "X\x00A: a\r\n\r\n", headerInfo{badField: true}},
		{"NUL in an obs-fold line", "X-A: abc\r\n \x00x\r\n\r\n", headerInfo{}},
		{"NUL in a line without colon", "no\x00colon\r\n\r\n", headerInfo{}},
		{"NUL in the line after the value's word", "A: b\r\n\x00\r\n\r\n", headerInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := parseHeader([]byte(tt.block))
			got.host = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseHeader(%q)\n- want: %+v\n-  got: %+v", tt.block, tt.want, got)
			}
		})
	}
}

// TestParseHeaderEnd checks where parseHeader finds the end of a block in
// bytes that may go on past it (a body, the next message) or stop short
// of it, and that what follows the block changes nothing.
func TestParseHeaderEnd(t *testing.T) {
	tests := []struct {
		name string
		b    string
		end  int // -1: the block does not end in b
	}{
		{"CRLF", "Host: a\r\n\r\nbody", 11},
		{"bare LF", "Host: a\n\nbody", 9},
		{"LF then CRLF", "Host: a\n\r\n", 10},
		{"empty block", "\r\nGET", 2},
		{"empty block, bare LF", "\n", 1},
		{"CR CR LF is not empty", "Host: a\r\n\r\r\n\r\n", 14},
		{"NUL in the body", "Host: a\r\n\r\n\x00", 11},
		{"empty", "", -1},
		{"no empty line", "Host: a\r\n", -1},
		{"CR without LF", "Host: a\r\n\r", -1},
		{"name without colon or LF", "Host: a\r\nX-Long", -1},
		{"value without LF", "Host: a\r\nX: 1", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, end := parseHeader([]byte(tt.b))
			if end != tt.end {
				t.Fatalf("parseHeader(%q)\n- want: end %d\n-  got: end %d", tt.b, tt.end, end)
			}
			if end < 0 {
				return
			}
			if want, _ := parseHeader([]byte(tt.b[:end])); !reflect.DeepEqual(got, want) {
				t.Fatalf("parseHeader(%q) differs from the block alone\n- want: %+v\n-  got: %+v", tt.b, want, got)
			}
		})
	}
}

func TestParseChunkSize(t *testing.T) {
	tests := []struct {
		line string
		n    int64
		ok   bool
	}{
		{"0\r\n", 0, true},
		{"1a\r\n", 26, true},
		{"FF;name=value\r\n", 255, true},
		{"10 ; ext\n", 16, true},
		{"7fffffffffffffff\r\n", 1<<63 - 1, true},
		{"000000000000000000001\r\n", 1, true},
		{"8000000000000000\r\n", 0, false},
		{"\r\n", 0, false},
		{"-1\r\n", 0, false},
		{"1 2\r\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			n, ok := parseChunkSize([]byte(tt.line))
			if n != tt.n || ok != tt.ok {
				t.Fatalf("parseChunkSize(%q)\n- want: %d %v\n-  got: %d %v", tt.line, tt.n, tt.ok, n, ok)
			}
		})
	}
}

func TestFlagsString(t *testing.T) {
	if got, want := (Partial | Snaplen).String(), "partial,snaplen"; got != want {
		t.Fatalf("- want: %s\n-  got: %s", want, got)
	}
}

// TestStats checks the counters on a connection with garbage, a gap and a tunnel.
func TestStats(t *testing.T) {
	var got []string
	p := NewConnParser(ParserOptions{}, SinkFunc(func(e *Exchange) { got = append(got, render(*e)) }))
	p.Data(cs, []byte(get), frame(0))
	p.Data(sc, []byte("xx"), frame(1))
	p.Gap(sc, 10, frame(2), false)
	p.Data(sc, []byte("zHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), frame(3))
	p.Data(cs, []byte("CONNECT h:443 HTTP/1.1\r\n\r\n"), frame(4))
	p.Data(sc, []byte("HTTP/1.1 200 OK\r\n\r\n"), frame(5))
	p.Data(cs, []byte("tls"), frame(6))
	p.Data(sc, []byte("tls!"), frame(7))
	p.Close(frame(8))
	want := ParserStats{Exchanges: 3, Skipped: [2]int64{0, 1}, GapBytes: [2]int64{0, 10}, Tunneled: [2]int64{3, 4}}
	if st := p.Stats(); st != want {
		t.Fatalf("exchanges %q\n- want: %+v\n-  got: %+v", got, want, st)
	}
}
