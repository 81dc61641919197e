package report

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"why502/findings"
	"why502/httpmatch"
)

// Markdown is the postmortem format of "why502 analyze" (issue 5): a
// section to paste into a GitHub or GitLab issue or a Confluence page.
const Markdown Format = "markdown"

// MarkdownOptions tune a MarkdownWriter.
type MarkdownOptions struct {
	// TopN is how many incidents the incident table lists (the rest are
	// counted). Default 20.
	TopN int
	// Command is the command line that reproduces the report, without
	// --format; default "why502 analyze FILE...".
	Command string
}

// MarkdownWriter writes the postmortem. It holds the first TopN incidents
// and the first incident of each cause (for its ladder diagram), and
// counts the rest, so memory does not grow with the capture.
type MarkdownWriter struct {
	w       *bufio.Writer
	opts    MarkdownOptions
	top     []httpmatch.Incident
	first   map[httpmatch.Cause]*httpmatch.Incident
	causes  []httpmatch.Cause // in order of first appearance
	n       int
	hidden  int
	byCause map[httpmatch.Cause]int
	t0, t1  time.Time
}

// NewMarkdownWriter returns a writer of the Markdown postmortem to w.
func NewMarkdownWriter(w io.Writer, opts MarkdownOptions) *MarkdownWriter {
	if opts.TopN <= 0 {
		opts.TopN = 20
	}
	return &MarkdownWriter{
		w: bufio.NewWriterSize(w, 64<<10), opts: opts,
		first: map[httpmatch.Cause]*httpmatch.Incident{}, byCause: map[httpmatch.Cause]int{},
	}
}

// Incident takes one incident or hidden failure.
func (mw *MarkdownWriter) Incident(in httpmatch.Incident) error {
	if in.Hidden {
		mw.hidden++
		return nil
	}
	if mw.n == 0 {
		mw.t0 = in.Time
	}
	mw.t1 = in.Time
	mw.n++
	mw.byCause[in.Cause]++
	if len(mw.top) < mw.opts.TopN {
		mw.top = append(mw.top, in)
	}
	if mw.first[in.Cause] == nil {
		c := in
		mw.first[in.Cause] = &c
		mw.causes = append(mw.causes, in.Cause)
	}
	return nil
}

// Close writes the report and flushes.
func (mw *MarkdownWriter) Close(s AnalyzeSummary) error {
	w := mw.w
	cmd := mw.opts.Command
	if cmd == "" {
		cmd = "why502 analyze " + strings.Join(s.Files, " ")
	}
	fmt.Fprintf(w, "## Postmortem: why the proxy answered 5xx\n\n")
	mw.summary(s)
	mw.findings(s, cmd)
	mw.timeline(s)
	mw.ladders()
	mw.table()
	fmt.Fprintf(w, "### Reproduce\n\n```sh\n%s --format markdown     # this report\n%s                       # the incident table\n%s --format json | jq '.findings[]'\n```\n",
		cmd, cmd, cmd)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func (mw *MarkdownWriter) summary(s AnalyzeSummary) {
	w := mw.w
	a := s.Analyze
	span := s.Capture.Last.Sub(s.Capture.First)
	fmt.Fprintf(w, "**Summary.** In the capture (%s, %s to %s UTC, %.1f s) the proxy answered %d of %d requests with a 5xx",
		mdEscape(strings.Join(s.Files, ", ")), hms(s.Capture.First), hms(s.Capture.Last), span.Seconds(), a.Responses5xx, a.Requests)
	if len(mw.byCause) > 0 {
		fmt.Fprintf(w, " (%s)", causeList(mw.byCause))
	}
	if mw.hidden > 0 {
		fmt.Fprintf(w, ", and %d more requests succeeded only after a failed upstream attempt", mw.hidden)
	}
	w.WriteString(".")
	if len(s.Findings) > 0 {
		var parts []string
		for _, f := range s.Findings {
			parts = append(parts, headline(&f))
		}
		fmt.Fprintf(w, " What happened: %s.", strings.Join(parts, "; "))
	} else {
		w.WriteString(" No pattern stands out beyond the incidents below.")
	}
	w.WriteString("\n\n")
}

// headline says a finding in a few words, for the summary.
func headline(f *findings.Finding) string {
	up := "`" + f.Upstream.String() + "`"
	switch f.Kind {
	case findings.BackendDown:
		if f.End.IsZero() {
			return fmt.Sprintf("the backend %s went down at %s and was still down when the capture ended", up, hms(f.Start))
		}
		return fmt.Sprintf("the backend %s was down for %.2f s from %s (%d connects refused)", up, f.Down.Seconds(), hms(f.Start), f.Count)
	case findings.WriteTimeout:
		return fmt.Sprintf("%s closes requests %s after they arrive, unanswered (a write timeout)", up, dur(f.WriteTimeout))
	case findings.KeepaliveRace:
		s := fmt.Sprintf("%d keep-alive races with %s", f.Count, up)
		if f.IdleTimeout > 0 {
			s += fmt.Sprintf(" (its idle timeout is %s, shorter than the proxy's)", dur(f.IdleTimeout))
		}
		return s
	case findings.StaleUpstream:
		return fmt.Sprintf("%s never accepted a connection (a stale upstream address, %d connects)", up, f.Count)
	case findings.HiddenRetries:
		return fmt.Sprintf("%d requests were retried after failing on %s", f.Count, up)
	case findings.CaptureCoverage:
		return "the capture does not show everything (see capture_coverage)"
	}
	return string(f.Kind)
}

func (mw *MarkdownWriter) findings(s AnalyzeSummary, cmd string) {
	w := mw.w
	if len(s.Findings) == 0 {
		return
	}
	w.WriteString("### Findings\n\n")
	for i, f := range s.Findings {
		fmt.Fprintf(w, "%d. **`%s`**", i+1, f.Kind)
		if f.Upstream.IsValid() {
			fmt.Fprintf(w, " `%s`", f.Upstream)
		}
		if win := findingWindow(&f); win != "" {
			fmt.Fprintf(w, " %s", win)
		}
		fmt.Fprintf(w, ": %s.\n", mdEscape(f.Conclusion))
		fmt.Fprintf(w, "   - **Advice:** %s.\n", mdEscape(f.Advice))
		if len(f.Evidence) > 0 {
			fmt.Fprintf(w, "   - Evidence: frames %s.\n", framesByFile(f.Evidence, "`%s`"))
		}
		if len(f.Conns) > 0 {
			fmt.Fprintf(w, "   - Wireshark: `%s`\n", incidentFilter(f.Conns))
		}
		fmt.Fprintf(w, "   - Reproduce: `%s --format json | jq '.findings[] | select(.kind == \"%s\")'`\n", cmd, f.Kind)
	}
	w.WriteString("\n")
}

// maxTimelineRows caps the timeline; longer captures are shown in wider bins.
const maxTimelineRows = 40

func (mw *MarkdownWriter) timeline(s AnalyzeSummary) {
	w := mw.w
	if len(s.Timeline) == 0 {
		return
	}
	ups := make([]netip.AddrPort, 0, len(s.Timeline))
	for a := range s.Timeline {
		ups = append(ups, a)
	}
	slices.SortFunc(ups, func(a, b netip.AddrPort) int { return a.Compare(b) })
	w.WriteString("### Timeline\n\nRequests sent to each upstream, refused or unanswered connects, and the 5xx the proxy answered because of it, per second (`#` request, `x` 5xx, `!` failed connect; one mark per request up to 50).\n\n")
	for _, up := range ups {
		rows := s.Timeline[up]
		if len(rows) == 0 {
			continue
		}
		bin := time.Second
		if span := rows[len(rows)-1].Second.Sub(rows[0].Second); span >= maxTimelineRows*time.Second {
			bin = (span/maxTimelineRows + time.Second).Truncate(time.Second)
		}
		fmt.Fprintf(w, "`%s`:\n\n```text\n%-12s %6s %6s %6s\n", up, "TIME (UTC)", "REQ", "FAIL", "5XX")
		var cur findings.TimelineRow
		flush := func() {
			marks := strings.Repeat("#", min(cur.Requests, 50)) + strings.Repeat("!", min(cur.Failed, 50)) + strings.Repeat("x", min(cur.Status5xx, 50))
			fmt.Fprintf(w, "%-12s %6d %6d %6d  %s\n", cur.Second.Format("15:04:05"), cur.Requests, cur.Failed, cur.Status5xx, marks)
		}
		for i, r := range rows {
			start := r.Second.Truncate(bin)
			if i > 0 && !start.Equal(cur.Second) {
				flush()
				cur = findings.TimelineRow{}
			}
			cur.Second = start
			cur.Requests += r.Requests
			cur.Failed += r.Failed
			cur.Status5xx += r.Status5xx
		}
		flush()
		w.WriteString("```\n\n")
	}
}

// ladders draws the first incident of each cause as a Mermaid sequence
// diagram: client, proxy and backend, each evidence frame an arrow.
func (mw *MarkdownWriter) ladders() {
	w := mw.w
	if len(mw.causes) == 0 {
		return
	}
	w.WriteString("### What happened on the wire (first incident of each cause)\n\n")
	for _, c := range mw.causes {
		in := mw.first[c]
		fmt.Fprintf(w, "#### `%s`: %s %s answered %d at %s\n\n", c, in.Method, mdEscape(in.URI), in.Status, hms(in.Time))
		fmt.Fprintf(w, "%s.\n\n", mdEscape(in.Explanation))
		w.WriteString(Ladder(in))
		fmt.Fprintf(w, "\nWireshark: `%s`\n\n", incidentFilter(in.Conns))
	}
}

// Ladder returns a fenced Mermaid sequence diagram of an incident's evidence.
func Ladder(in *httpmatch.Incident) string {
	var b strings.Builder
	b.WriteString("```mermaid\nsequenceDiagram\n")
	fmt.Fprintf(&b, "    participant C as client %s\n", mermaidText(in.Client.String()))
	fmt.Fprintf(&b, "    participant P as proxy %s\n", mermaidText(in.Proxy.String()))
	up := "backend"
	if in.Upstream.IsValid() {
		up += " " + in.Upstream.String()
	}
	fmt.Fprintf(&b, "    participant B as %s\n", mermaidText(up))
	ups, locals := map[netip.AddrPort]bool{}, map[netip.AddrPort]bool{}
	for _, a := range in.Attempts {
		ups[a.Upstream] = true
		locals[a.Local] = true
	}
	for _, e := range in.Evidence {
		from, to := "P", "B"
		if i := strings.Index(e.What, " from "); i >= 0 {
			addr, _, _ := strings.Cut(e.What[i+len(" from "):], " ")
			ap, err := netip.ParseAddrPort(strings.TrimSuffix(addr, ":"))
			switch {
			case err != nil:
			case ap == in.Client:
				from, to = "C", "P"
			case ap == in.Proxy:
				from, to = "P", "C"
			case ups[ap]:
				from, to = "B", "P"
			case locals[ap]:
				from, to = "P", "B"
			}
		}
		fmt.Fprintf(&b, "    %s->>%s: %s frame %d %s\n", from, to, e.Time.UTC().Format("15:04:05.000000"), e.Frame, mermaidText(e.What))
	}
	b.WriteString("```\n")
	return b.String()
}

// mermaidText keeps a message on one statement: Mermaid reads ';' as a
// statement end and '#' as the start of an entity code.
func mermaidText(s string) string {
	return strings.NewReplacer(";", ",", "#", "no. ", "\n", " ", "\r", " ").Replace(s)
}

func (mw *MarkdownWriter) table() {
	w := mw.w
	if mw.n == 0 {
		return
	}
	fmt.Fprintf(w, "### Incidents (%d of %d)\n\n", len(mw.top), mw.n)
	w.WriteString("| time (UTC) | status | client | request | upstream | cause | explanation |\n|---|---|---|---|---|---|---|\n")
	for _, in := range mw.top {
		up := "-"
		if in.Upstream.IsValid() {
			up = "`" + in.Upstream.String() + "`"
		}
		cause := "`" + string(in.Cause) + "`"
		if in.Inferred {
			cause += " (inferred)"
		}
		fmt.Fprintf(w, "| %s | %d | `%s` | `%s %s` | %s | %s | %s |\n",
			in.Time.UTC().Format("15:04:05.000000"), in.Status, in.Client, in.Method, cellEscape(in.URI), up, cause, cellEscape(in.Explanation))
	}
	if mw.n > len(mw.top) {
		fmt.Fprintf(w, "\n%d more incidents: `--format json` lists them all.\n", mw.n-len(mw.top))
	}
	w.WriteString("\n")
}

func hms(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func dur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func causeList(m map[httpmatch.Cause]int) string {
	keys := make([]httpmatch.Cause, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b httpmatch.Cause) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(string(a), string(b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d `%s`", m[k], k)
	}
	return strings.Join(parts, ", ")
}

// mdEscape keeps text literal in Markdown: the characters that would start
// emphasis or HTML are escaped; backquoted spans are left alone.
func mdEscape(s string) string {
	var b strings.Builder
	code := false
	for _, r := range s {
		if r == '`' {
			code = !code
		}
		if !code && strings.ContainsRune(`*_<>[]|\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cellEscape makes text safe in a table cell.
func cellEscape(s string) string {
	return mdEscape(strings.NewReplacer("\n", " ", "`", "'").Replace(s))
}
