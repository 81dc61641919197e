package httpmatch

import (
	"reflect"
	"testing"
)

// decodeOps turns fuzz input into a connection: each op is a header byte
// (bit 0: direction; bits 1-2: 3 means a gap, else data; bit 3: snaplen),
// a length byte, then for data that many bytes.
func decodeOps(b []byte) []seg {
	var segs []seg
	for len(b) >= 2 {
		op, n := b[0], int(b[1])
		b = b[2:]
		dir := cs
		if op&1 != 0 {
			dir = sc
		}
		if op>>1&3 == 3 {
			segs = append(segs, seg{dir: dir, gap: int64(n) + 1, snap: op&8 != 0})
			continue
		}
		n = min(n, len(b))
		segs = append(segs, seg{dir: dir, data: string(b[:n])})
		b = b[n:]
	}
	return segs
}

func encodeOps(segs ...seg) []byte {
	var b []byte
	for _, sg := range segs {
		op := byte(sg.dir)
		if sg.gap > 0 {
			op |= 6
			if sg.snap {
				op |= 8
			}
			b = append(b, op, byte(sg.gap-1))
			continue
		}
		for d := sg.data; ; d = d[255:] {
			n := min(len(d), 255)
			b = append(b, op, byte(n))
			b = append(b, d[:n]...)
			if len(d) <= 255 {
				break
			}
		}
	}
	return b
}

// FuzzConnParser feeds arbitrary bytes and gaps in both directions. The
// parser must not panic, must keep its buffers within their bounds, must
// emit exchanges in order, and must give the same result whether the bytes
// come whole or one at a time.
func FuzzConnParser(f *testing.F) {
	for _, tt := range parserTests {
		f.Add(encodeOps(tt.segs...))
	}
	f.Add(encodeOps(c(get), s("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"), gapS(2, true), s("cHTTP/1.1 200")))
	f.Fuzz(func(t *testing.T, b []byte) {
		segs := decodeOps(b)
		opts := ParserOptions{MaxHeaderBytes: 1024, MaxPending: 8}
		var got []Exchange
		p := NewConnParser(opts, SinkFunc(func(e *Exchange) {
			if n := len(got); n > 0 && e.Index <= got[n-1].Index {
				t.Fatalf("exchange %d emitted after %d", e.Index, got[n-1].Index)
			}
			got = append(got, *e)
		}))
		for i, sg := range segs {
			if sg.gap > 0 {
				p.Gap(sg.dir, sg.gap, frame(i), sg.snap)
			} else {
				p.Data(sg.dir, []byte(sg.data), frame(i))
			}
			checkBounds(t, p)
		}
		p.Close(frame(len(segs)))
		checkBounds(t, p)
		if want := parse(opts, segs, false, bytewise); !reflect.DeepEqual(got, want) {
			t.Fatalf("whole and bytewise differ\n- want: %s\n-  got: %s", renderAll(want), renderAll(got))
		}
	})
}

func checkBounds(t *testing.T, p *ConnParser) {
	t.Helper()
	if n := len(p.q) - p.qh; n > p.opts.MaxPending {
		t.Fatalf("%d exchanges pending, more than MaxPending %d", n, p.opts.MaxPending)
	}
	for d := range p.h {
		h := &p.h[d]
		if len(h.buf) > p.opts.MaxHeaderBytes || len(h.buf) > max(p.opts.MaxHeaderBytes, maxChunkLine) {
			t.Fatalf("dir %d: buffer holds %d bytes", d, len(h.buf))
		}
		if len(h.marks) > prefixLen {
			t.Fatalf("dir %d: %d frame marks", d, len(h.marks))
		}
		if h.look != nil && h.look.n > sigMax {
			t.Fatalf("dir %d: lookahead %d", d, h.look.n)
		}
	}
}
