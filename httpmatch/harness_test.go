package httpmatch

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"why502/flows"
)

const (
	cs = flows.ClientToServer
	sc = flows.ServerToClient
)

// seg is one captured frame of a test connection: data in one direction,
// or a gap of n bytes.
type seg struct {
	dir  flows.Dir
	data string
	gap  int64
	snap bool
}

func c(data string) seg { return seg{dir: cs, data: data} }
func s(data string) seg { return seg{dir: sc, data: data} }
func gapC(n int64) seg  { return seg{dir: cs, gap: n} }
func gapS(n int64, snaplen bool) seg {
	return seg{dir: sc, gap: n, snap: snaplen}
}

var t0 = time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)

// frame is the FrameRef of segment i: frame numbers are 1-based segment
// indexes, so that "@3" in a want line means the third segment.
func frame(i int) flows.FrameRef {
	return flows.FrameRef{File: "t.pcap", Frame: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond)}
}

// splitter cuts segment i's data into the pieces handed to Data.
type splitter func(i int, data string) []string

func whole(_ int, data string) []string { return []string{data} }

func bytewise(_ int, data string) []string {
	out := make([]string, len(data))
	for i := 0; i < len(data); i++ { // bytes, not runes
		out[i] = data[i : i+1]
	}
	return out
}

func randomSplit(seed uint64) splitter {
	r := rand.New(rand.NewPCG(seed, seed))
	return func(_ int, data string) []string {
		var out []string
		for len(data) > 0 {
			n := 1 + r.IntN(min(len(data), 17))
			out, data = append(out, data[:n]), data[n:]
		}
		return out
	}
}

// splitAt cuts the segment holding global byte offset pos in two there.
func splitAt(segs []seg, pos int) splitter {
	return func(i int, data string) []string {
		off := 0
		for _, sg := range segs[:i] {
			off += len(sg.data)
		}
		if k := pos - off; k > 0 && k < len(data) {
			return []string{data[:k], data[k:]}
		}
		return []string{data}
	}
}

// parse feeds segs to a new parser, closing it unless open, and returns the
// exchanges. Each piece is handed in a fresh buffer that is scribbled over
// after the call, to catch a parser keeping data it does not own.
func parse(opts ParserOptions, segs []seg, open bool, split splitter) []Exchange {
	var got []Exchange
	p := NewConnParser(opts, SinkFunc(func(e *Exchange) { got = append(got, *e) }))
	for i, sg := range segs {
		if sg.gap > 0 {
			p.Gap(sg.dir, sg.gap, frame(i), sg.snap)
			continue
		}
		for _, piece := range split(i, sg.data) {
			b := []byte(piece)
			p.Data(sg.dir, b, frame(i))
			for k := range b {
				b[k] = '#'
			}
		}
	}
	if !open {
		p.Close(frame(len(segs)))
	}
	return got
}

// render is the test's one-line view of an exchange: frames as @start-end
// (responses @start/headerEnd/end) by frame number, then what is set.
func render(e Exchange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d ", e.Index)
	q := &e.Request
	if q.Flags&Missing != 0 {
		b.WriteString("-")
	} else {
		fmt.Fprintf(&b, "%s %s %s @%d-%d", q.Method, q.URI, q.Proto, q.Start.Frame, q.End.Frame)
		if q.Host != "" {
			fmt.Fprintf(&b, " host=%s", q.Host)
		}
		if q.Expect100 {
			b.WriteString(" expect100")
		}
		renderMsg(&b, &q.Message)
	}
	b.WriteString(" | ")
	r := &e.Response
	if r.Flags&Missing != 0 {
		b.WriteString("-")
	} else {
		fmt.Fprintf(&b, "%d %s %s @%d/%d/%d", r.Status, r.Reason, r.Proto, r.Start.Frame, r.HeaderEnd.Frame, r.End.Frame)
		if r.Interim > 0 {
			fmt.Fprintf(&b, " interim=%dx%d", r.Interim, r.InterimStatus)
		}
		renderMsg(&b, &r.Message)
	}
	if !e.Persistent() {
		b.WriteString(" | close")
	}
	return b.String()
}

func renderMsg(b *strings.Builder, m *Message) {
	if m.Body != NoBody || m.BodyBytes != 0 {
		fmt.Fprintf(b, " %s:%d", m.Body, m.BodyBytes)
		if m.ContentLength >= 0 && m.Body != LengthBody {
			fmt.Fprintf(b, "(cl=%d)", m.ContentLength)
		}
	}
	if m.Close {
		b.WriteString(" conn:close")
	}
	if m.KeepAlive {
		b.WriteString(" conn:keep-alive")
	}
	if m.Skipped != 0 {
		fmt.Fprintf(b, " skipped=%d", m.Skipped)
	}
	if m.Flags != 0 {
		fmt.Fprintf(b, " [%s]", m.Flags)
	}
	if m.Preview != "" {
		fmt.Fprintf(b, " preview=%s", m.Preview)
	}
}

// checkSplits parses segs whole, then split at every position, byte by
// byte and at random, and fails if any result differs from the whole one.
// It returns the whole result.
func checkSplits(t *testing.T, opts ParserOptions, segs []seg, open bool) []Exchange {
	t.Helper()
	want := parse(opts, segs, open, whole)
	splits := map[string]splitter{"bytewise": bytewise}
	for seed := range uint64(5) {
		splits[fmt.Sprintf("random %d", seed)] = randomSplit(seed)
	}
	total := 0
	for _, sg := range segs {
		total += len(sg.data)
	}
	for pos := 1; pos < total; pos++ {
		splits[fmt.Sprintf("split at %d", pos)] = splitAt(segs, pos)
	}
	for name, split := range splits {
		if got := parse(opts, segs, open, split); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: result differs from whole segments\n- want: %s\n-  got: %s", name, renderAll(want), renderAll(got))
		}
	}
	return want
}

func renderAll(es []Exchange) string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = render(e)
	}
	return strings.Join(lines, "\n        ")
}
