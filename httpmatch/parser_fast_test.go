package httpmatch

import (
	"bytes"
	"strings"
	"testing"

	"why502/flows"
)

// The fast paths of the parser (wholeHead, indexLF, the scanners' end)
// must find what the general ones do. checkSplits covers wholeHead against
// the line-by-line way for every parserTests case; these cover the pieces.

// refIndexLF is what indexLF must return, the plain way.
func refIndexLF(b []byte) (int, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return -1, false
	}
	return i, bytes.IndexByte(b[:i], 0) >= 0
}

func TestIndexLF(t *testing.T) {
	long := strings.Repeat("v", 40)
	tests := []struct {
		name string
		b    string
		want int
		nul  bool
	}{
		{"empty", "", -1, false},
		{"short, no LF", "abc", -1, false},
		{"short", " a\r\n", 3, false},
		{"LF first", "\nabcdefgh", 0, false},
		{"in the first word", " backend\r\nHost: x\r\n", 9, false},
		{"last byte of a word", "1234567\n", 7, false},
		{"first byte of the second word", "12345678\nX", 8, false},
		{"past the words read inline", long + "\r\n", 41, false},
		{"in the tail after whole words", "123456789\n", 9, false},
		{"no LF in several words", long, -1, false},
		{"NUL before LF, same word", "a\x00b\r\n", 4, true},
		{"NUL before LF, same word, long", "a\x00bcdefgh\r\nX: y\r\n", 10, true},
		{"NUL after LF, same word", "abc\r\n\x00de", 4, false},
		{"NUL in an earlier word", "\x00bcdefgh12345\n", 13, true},
		{"NUL past the words read inline", long + "\x00\r\n", 42, true},
		{"NUL past the LF, long", long + "\r\n\x00", 41, false},
		{"NUL and no LF", "ab\x00cdefghij", -1, true},
		{"NUL in the tail", "12345678\x00\n", 9, true},
		{"high bytes", "\xff\x80\x8a\x0b\x09\x01\x7f\xfe\n", 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, nul := indexLF([]byte(tt.b))
			// Without a LF the NUL report is not used: compare it only
			// when there is one.
			if i != tt.want || (i >= 0 && nul != tt.nul) {
				t.Fatalf("indexLF(%q)\n- want: %d %v\n-  got: %d %v", tt.b, tt.want, tt.nul, i, nul)
			}
			if ri, rnul := refIndexLF([]byte(tt.b)); ri != i || (i >= 0 && rnul != nul) {
				t.Fatalf("indexLF(%q) = %d %v, the plain way %d %v", tt.b, i, nul, ri, rnul)
			}
		})
	}
}

func FuzzIndexLF(f *testing.F) {
	for _, s := range []string{"", "a\r\n", "a\x00b\r\n", strings.Repeat("x", 33) + "\x00\n", "\x0a\x0b\x00\x01\x80\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i, nul := indexLF(b)
		ri, rnul := refIndexLF(b)
		if i != ri || (i >= 0 && nul != rnul) {
			t.Fatalf("indexLF(%q)\n- want: %d %v\n-  got: %d %v", b, ri, rnul, i, nul)
		}
	})
}

// TestScanStartEnd checks the scanners' end, and that a start line scanned
// with what follows it in a segment reads as the line alone: wholeHead
// scans a segment's first prefixLen bytes, startLine the line it cut.
func TestScanStartEnd(t *testing.T) {
	tests := []struct {
		name string
		dir  flows.Dir
		line string // the start line, then what follows it
		rest string
	}{
		{"request CRLF", cs, "GET /a HTTP/1.1\r\n", "Host: x\r\n\r\n"},
		{"request bare LF", cs, "GET /a HTTP/1.0\n", "\n"},
		{"request, nothing after", cs, "PUT /b HTTP/1.1\r\n", ""},
		{"response with reason", sc, "HTTP/1.1 404 Not Found\r\n", "Content-Length: 0\r\n\r\n"},
		{"response without reason", sc, "HTTP/1.1 200\r\n", "\r\n"},
		{"response, empty reason", sc, "HTTP/1.1 200 \n", "X"},
		{"response, LF in what follows", sc, "HTTP/1.0 502 Bad Gateway\r\n", "\n\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alone, v := scanStart(tt.dir, []byte(tt.line))
			if v != vOK || alone.end != len(tt.line) {
				t.Fatalf("scanStart(%q)\n- want: vOK, end %d\n-  got: %d, end %d", tt.line, len(tt.line), v, alone.end)
			}
			b := []byte(tt.line + tt.rest)
			got, v := scanStart(tt.dir, b[:min(len(b), prefixLen)])
			if v != vOK || got != alone {
				t.Fatalf("scanStart(%q)\n- want: vOK %+v\n-  got: %d %+v", b, alone, v, got)
			}
		})
	}
}

// FuzzScanStartEnd: whenever the scan of a segment's first bytes finds a
// whole start line, the scan of that line alone must find the same.
func FuzzScanStartEnd(f *testing.F) {
	f.Add(true, []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add(false, []byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Add(false, []byte("HTTP/1.1 200\n\n"))
	f.Fuzz(func(t *testing.T, request bool, b []byte) {
		dir := sc
		if request {
			dir = cs
		}
		got, v := scanStart(dir, b[:min(len(b), prefixLen)])
		if v != vOK {
			return
		}
		if i := bytes.IndexByte(b, '\n'); i+1 != got.end {
			t.Fatalf("scanStart(%q): end %d, first LF at %d", b, got.end, i)
		}
		if alone, v := scanStart(dir, b[:got.end]); v != vOK || alone != got {
			t.Fatalf("scanStart(%q)\n- want: vOK %+v\n-  got: %d %+v", b[:got.end], got, v, alone)
		}
	})
}
