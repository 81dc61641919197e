package httpmatch

import (
	"bytes"
	"testing"

	"why502/flows"
)

// benchReq and benchResp are a small keep-alive exchange.
var (
	benchReq  = []byte("GET /api/v1/items?page=2 HTTP/1.1\r\nHost: backend:8080\r\nUser-Agent: bench\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")
	benchResp = []byte("HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"items\":[1,2,3],\"next\":3}\n")
)

// BenchmarkParse runs one keep-alive connection of small GET exchanges, a
// request and its response per iteration, each delivered as one Data call
// as a TCP segment would carry it: "repeated" sends the same exchange each
// time (the heads are remembered, headMemo), "varied" alternates two
// whose heads differ in their start lines and in a header value, so that
// every head is scanned.
func BenchmarkParse(b *testing.B) {
	varReq := bytes.Replace(benchReq, []byte("page=2"), []byte("page=3"), 1)
	varResp := bytes.Replace(benchResp, []byte("Server: bench"), []byte("Server: bench2"), 1)
	varResp = bytes.Replace(varResp, []byte("200 OK"), []byte("201 Created"), 1)
	for _, bc := range []struct {
		name        string
		reqs, resps [2][]byte
	}{
		{"repeated", [2][]byte{benchReq, benchReq}, [2][]byte{benchResp, benchResp}},
		{"varied", [2][]byte{benchReq, varReq}, [2][]byte{benchResp, varResp}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			p := NewConnParser(ParserOptions{}, SinkFunc(func(e *Exchange) { n++ }))
			at := flows.FrameRef{File: "bench.pcap", Frame: 1}
			b.SetBytes(int64(len(benchReq) + len(benchResp)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Data(flows.ClientToServer, bc.reqs[i&1], at)
				p.Data(flows.ServerToClient, bc.resps[i&1], at)
				i++
			}
			if n != b.N {
				b.Fatalf("%d exchanges for %d iterations", n, b.N)
			}
		})
	}
}

// BenchmarkParseChunked is the same with chunked responses split across
// segments, the body's framing crossing Data calls.
func BenchmarkParseChunked(b *testing.B) {
	req := []byte("POST /upload HTTP/1.1\r\nHost: backend\r\nContent-Length: 512\r\n\r\n")
	body := make([]byte, 512)
	resp := [][]byte{[]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789ab"),
		[]byte("cdef\r\n4\r\nabcd\r\n0\r\n\r\n")}
	n := 0
	p := NewConnParser(ParserOptions{}, SinkFunc(func(e *Exchange) { n++ }))
	at := flows.FrameRef{File: "bench.pcap", Frame: 1}
	b.SetBytes(int64(len(req) + len(body) + len(resp[0]) + len(resp[1])))
	b.ReportAllocs()
	for b.Loop() {
		p.Data(flows.ClientToServer, req, at)
		p.Data(flows.ClientToServer, body, at)
		p.Data(flows.ServerToClient, resp[0], at)
		p.Data(flows.ServerToClient, resp[1], at)
	}
	if n != b.N {
		b.Fatalf("%d exchanges for %d iterations", n, b.N)
	}
}

// BenchmarkParsePieces times two pieces of BenchmarkParse: the scans of
// its start lines and the parses of its header blocks.
func BenchmarkParsePieces(b *testing.B) {
	var lines, blocks [2][]byte
	for d, m := range [2][]byte{benchReq, benchResp} {
		i := bytes.IndexByte(m, '\n') + 1
		lines[d], blocks[d] = m[:i], m[i:]
	}
	b.Run("start lines", func(b *testing.B) {
		b.SetBytes(int64(len(lines[0]) + len(lines[1])))
		for b.Loop() {
			for d, line := range lines {
				if _, v := scanStart(flows.Dir(d), line); v != vOK {
					b.Fatalf("%q: verdict %d", line, v)
				}
			}
		}
	})
	b.Run("header blocks", func(b *testing.B) {
		b.SetBytes(int64(len(blocks[0]) + len(blocks[1])))
		for b.Loop() {
			for _, block := range blocks {
				if _, end := parseHeader(block); end < 0 {
					b.Fatalf("%q: no end", block)
				}
			}
		}
	})
}
