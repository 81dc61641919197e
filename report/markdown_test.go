package report

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// markdownFiles runs "why502 analyze --format markdown" over real captures.
func markdownFiles(t *testing.T, names ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	mw := NewMarkdownWriter(&out, MarkdownOptions{TopN: 10})
	s := analyzeSummary(t, mw.Incident, names...)
	if err := mw.Close(s); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestMarkdownGolden(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{"loopback", []string{"loopback/capture.pcap"}},
		{"keepalive-race", []string{"keepalive-race/client.pcap", "keepalive-race/upstream.pcap"}},
		{"nginx-retry", []string{"nginx-retry/capture.pcap"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, f := range tc.files {
				names = append(names, filepath.Join("../samples", f))
			}
			got := markdownFiles(t, names...)
			checkMarkdown(t, got)
			golden := filepath.Join("testdata", "markdown-"+tc.name+".md.golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test ./report -update rewrites it)\n- want:\n%s\n-  got:\n%s", golden, want, got)
			}
		})
	}
}

// The statements a Mermaid sequence diagram of Ladder may hold.
var mermaidLine = regexp.MustCompile(`^(sequenceDiagram|    participant [CPB] as [^;#\n]+|    [CPB]->>[CPB]: [^;#\n]+)$`)

// checkMarkdown checks the structure a renderer relies on: fences
// balanced, every table row with the header's number of cells, every
// Mermaid block made only of statements Mermaid's sequence grammar takes.
// checkRendered adds a full CommonMark parse (goldmark).
func checkMarkdown(t *testing.T, md []byte) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(nil, 1<<20)
	fence, cells, n := "", 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if fence == "" {
				fence = strings.TrimPrefix(line, "```")
				if fence == "" {
					t.Errorf("line %d: a fence without a language", n)
				}
			} else if line == "```" {
				fence = ""
			} else {
				t.Errorf("line %d: fence %q opened inside a %s block", n, line, fence)
			}
			continue
		}
		switch {
		case fence == "mermaid":
			if !mermaidLine.MatchString(line) {
				t.Errorf("line %d: not a Mermaid sequence statement: %q", n, line)
			}
		case fence != "":
		case strings.HasPrefix(line, "|"):
			c := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
			if cells == 0 {
				cells = c
			} else if c != cells {
				t.Errorf("line %d: %d cell separators, the header has %d: %q", n, c, cells, line)
			}
		default:
			cells = 0
		}
	}
	if fence != "" {
		t.Errorf("unclosed %s fence", fence)
	}
}

// TestMarkdownRenders parses every Markdown golden, and a fresh report of
// every shipped sample, as CommonMark with GitHub's table extension
// (goldmark): the Mermaid fences must come out as fenced code blocks of
// language mermaid holding well-formed sequence diagrams, and every table
// the writer meant must be a table.
func TestMarkdownRenders(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join("testdata", "markdown-*.md.golden"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no Markdown goldens: %v", err)
	}
	for _, g := range goldens {
		t.Run(filepath.Base(g), func(t *testing.T) {
			md, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			checkRendered(t, md)
		})
	}
	metas, err := filepath.Glob(filepath.Join("..", "samples", "*", "meta"))
	if err != nil || len(metas) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, m := range metas {
		dir := filepath.Dir(m)
		t.Run("fresh/"+filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "files="); ok {
					for _, f := range strings.Fields(v) {
						names = append(names, filepath.Join(dir, f))
					}
				}
			}
			if len(names) == 0 {
				t.Skipf("%s names no files", m)
			}
			md := markdownFiles(t, names...)
			checkMarkdown(t, md)
			checkRendered(t, md)
		})
	}
}

// checkRendered parses md with goldmark and checks what a reader's
// renderer will make of it.
func checkRendered(t *testing.T, md []byte) {
	t.Helper()
	gm := goldmark.New(goldmark.WithExtensions(extension.Table))
	doc := gm.Parser().Parse(text.NewReader(md))
	var mermaid []string
	tables := 0
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.FencedCodeBlock:
			if string(n.Language(md)) == "mermaid" {
				var b strings.Builder
				for i := 0; i < n.Lines().Len(); i++ {
					s := n.Lines().At(i)
					b.Write(s.Value(md))
				}
				mermaid = append(mermaid, b.String())
			}
		case *east.Table:
			tables++
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := gm.Renderer().Render(&html, md, doc); err != nil {
		t.Fatalf("render: %v", err)
	}
	// What the writer meant: a "```mermaid" line opens a diagram, a
	// delimiter row ("|---|...") makes the lines around it a table.
	fences, delims := 0, 0
	for _, l := range strings.Split(string(md), "\n") {
		switch {
		case l == "```mermaid":
			fences++
		case strings.HasPrefix(l, "|---"):
			delims++
		}
	}
	if len(mermaid) != fences {
		t.Errorf("goldmark found %d mermaid code blocks, the text opens %d", len(mermaid), fences)
	}
	if n := strings.Count(html.String(), `<code class="language-mermaid">`); n != fences {
		t.Errorf("the HTML has %d mermaid code elements, want %d", n, fences)
	}
	if tables != delims {
		t.Errorf("goldmark found %d tables, the text has %d delimiter rows", tables, delims)
	}
	for i, src := range mermaid {
		for _, p := range checkMermaid(src) {
			t.Errorf("mermaid block %d: %s", i+1, p)
		}
	}
}

// Statements of a Mermaid sequence diagram (the subset a ladder needs):
// participants, messages and notes; identifiers are plain words.
var (
	mmParticipant = regexp.MustCompile(`^(?:participant|actor) ([A-Za-z][A-Za-z0-9_]*)(?: as (.+))?$`)
	mmMessage     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)(-->>|->>|-->|->|--x|-x|--\)|-\))([A-Za-z][A-Za-z0-9_]*): ?(.*)$`)
	mmNote        = regexp.MustCompile(`^Note (?:left of|right of|over) ([A-Za-z][A-Za-z0-9_]*)(?:, ?([A-Za-z][A-Za-z0-9_]*))?: ?(.*)$`)
)

// checkMermaid returns what is wrong with a sequence diagram: the header,
// statements Mermaid would not parse, participants used before they are
// declared (Mermaid would invent them, in the wrong order), and text with
// ';' (ends a statement) or '#' (starts an entity code).
func checkMermaid(src string) []string {
	var probs []string
	declared := map[string]bool{}
	header := false
	use := func(n int, ids ...string) {
		for _, id := range ids {
			if id != "" && !declared[id] {
				probs = append(probs, fmt.Sprintf("line %d: participant %s used before it is declared", n, id))
			}
		}
	}
	words := func(n int, s string) {
		if strings.TrimSpace(s) == "" {
			probs = append(probs, fmt.Sprintf("line %d: empty text", n))
		}
		if strings.ContainsAny(s, ";#") {
			probs = append(probs, fmt.Sprintf("line %d: text %q has ';' or '#'", n, s))
		}
	}
	for i, l := range strings.Split(strings.TrimRight(src, "\n"), "\n") {
		n := i + 1
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "%%") {
			continue
		}
		if !header {
			header = true
			if l == "sequenceDiagram" {
				continue
			}
			probs = append(probs, fmt.Sprintf("line %d: %q, want the sequenceDiagram header first", n, l))
		}
		if m := mmParticipant.FindStringSubmatch(l); m != nil {
			if declared[m[1]] {
				probs = append(probs, fmt.Sprintf("line %d: participant %s declared twice", n, m[1]))
			}
			declared[m[1]] = true
			if m[2] != "" {
				words(n, m[2])
			}
			continue
		}
		if m := mmMessage.FindStringSubmatch(l); m != nil {
			use(n, m[1], m[3])
			words(n, m[4])
			continue
		}
		if m := mmNote.FindStringSubmatch(l); m != nil {
			use(n, m[1], m[2])
			words(n, m[3])
			continue
		}
		if l == "autonumber" {
			continue
		}
		probs = append(probs, fmt.Sprintf("line %d: not a sequence diagram statement: %q", n, l))
	}
	if !header {
		probs = append(probs, "empty diagram")
	}
	return probs
}

func TestCheckMermaid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings, one per problem
	}{
		{"ladder", "sequenceDiagram\n    participant C as client 10.0.0.1:5000\n    participant P as proxy\n    C->>P: 12:00:00.000001 frame 1 request GET /\n    P-->>C: frame 9 502\n    Note over C,P: one note\n", nil},
		{"no header", "participant C\nC->>C: x\n", []string{"want the sequenceDiagram header"}},
		{"empty", "", []string{"empty diagram"}},
		{"used before declared", "sequenceDiagram\n    participant C\n    C->>B: x\n", []string{"participant B used before"}},
		{"declared twice", "sequenceDiagram\n    participant C\n    participant C as again\n", []string{"declared twice"}},
		{"semicolon in text", "sequenceDiagram\n    participant C\n    C->>C: a; b\n", []string{"has ';' or '#'"}},
		{"hash in label", "sequenceDiagram\n    participant C as frame #3\n", []string{"has ';' or '#'"}},
		{"bad arrow", "sequenceDiagram\n    participant C\n    C=>C: x\n", []string{"not a sequence diagram statement"}},
		{"no text", "sequenceDiagram\n    participant C\n    C->>C: \n", []string{"empty text"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkMermaid(tc.src)
			if len(got) != len(tc.want) {
				t.Fatalf("- want: %d problems %q\n-  got: %q", len(tc.want), tc.want, got)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("- want: %q\n-  got: %q", w, got[i])
				}
			}
		})
	}
}
