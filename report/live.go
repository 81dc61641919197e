package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"why502/capture"
	"why502/httpmatch"
)

// LiveSummary is what a live run says when it stops: the same as analyze,
// plus how long it ran and the kernel's counters of each capture socket.
type LiveSummary struct {
	AnalyzeSummary
	Duration   time.Duration
	Interfaces []capture.InterfaceStats
}

// LiveWriter writes the incidents of a live capture as they are decided:
// one fixed-width table row or one JSON line each, flushed at once so that
// a person watching the terminal or a jq pipeline sees it without delay.
// It keeps counts by cause and upstream, never the incidents, so that a run
// of days holds nothing per incident.
type LiveWriter struct {
	w       *bufio.Writer
	format  Format
	rows    int
	byCause map[causeKey]int
	err     error
}

type causeKey struct{ cause, upstream string }

// NewLiveWriter returns a writer of incidents in format f (Table or JSONL) to w.
func NewLiveWriter(w io.Writer, f Format) *LiveWriter {
	return &LiveWriter{w: bufio.NewWriterSize(w, 16<<10), format: f, byCause: map[causeKey]int{}}
}

// liveRow lays out the streaming incident table. A table fitted to its
// rows (the one analyze prints) cannot stream; these widths fit IPv4
// addresses and short requests, longer values push the row to the right
// rather than being cut, except the request, which is clipped.
const (
	liveRow        = "%-15s  %-6s  %-21s  %-32s  %-21s  %-16s  %s\n"
	liveRequestMax = 32
)

// Incident writes one incident or hidden failure and flushes.
func (lw *LiveWriter) Incident(in httpmatch.Incident) error {
	if lw.err != nil {
		return lw.err
	}
	up := "-"
	if in.Upstream.IsValid() {
		up = in.Upstream.String()
	}
	if !in.Hidden {
		lw.byCause[causeKey{string(in.Cause), up}]++
	}
	switch lw.format {
	case JSONL:
		j := newIncidentJSON(&in)
		j.Hidden = in.Hidden
		b, err := marshalPlain(j)
		if err != nil {
			lw.err = fmt.Errorf("encode incident: %w", err)
			return lw.err
		}
		lw.w.Write(b)
		lw.w.WriteByte('\n')
	default:
		if lw.rows == 0 {
			fmt.Fprintf(lw.w, liveRow, "TIME", "STATUS", "CLIENT", "REQUEST", "UPSTREAM", "CAUSE", "EXPLANATION")
		}
		cause := string(in.Cause)
		if in.Inferred {
			cause += " (inferred)"
		}
		if in.Hidden {
			// The client got an answer below 500, after a failed attempt.
			cause += " (hidden)"
		}
		fmt.Fprintf(lw.w, liveRow, in.Time.UTC().Format("15:04:05.000000"), fmt.Sprint(in.Status), in.Client,
			clipRunes(in.Method+" "+in.URI, liveRequestMax), up, cause, in.Explanation)
	}
	lw.rows++
	if err := lw.w.Flush(); err != nil {
		lw.err = fmt.Errorf("write output: %w", err)
	}
	return lw.err
}

// clipRunes cuts s to at most n runes, marking the cut with "…".
func clipRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Close writes the summary (table format; JSON lines keep their lines for
// incidents, see WriteSummaryText) and flushes.
func (lw *LiveWriter) Close(s LiveSummary) error {
	if lw.err != nil {
		return lw.err
	}
	if lw.format != JSONL {
		if lw.rows > 0 {
			lw.w.WriteByte('\n')
		}
		if err := lw.writeSummary(lw.w, s); err != nil {
			return err
		}
	}
	if err := lw.w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// WriteSummaryText writes the summary as text, for standard error when the
// output itself is JSON lines.
func (lw *LiveWriter) WriteSummaryText(w io.Writer, s LiveSummary) error {
	bw := bufio.NewWriter(w)
	if err := lw.writeSummary(bw, s); err != nil {
		return err
	}
	return bw.Flush()
}

// writeSummary writes what analyze writes after its incidents (the
// incidents by cause and upstream, the findings, the totals), then the
// kernel's counters.
func (lw *LiveWriter) writeSummary(w *bufio.Writer, s LiveSummary) error {
	if len(lw.byCause) > 0 {
		if err := writeCauseCounts(w, lw.byCause); err != nil {
			return err
		}
		w.WriteByte('\n')
	}
	writeFindingsTable(w, s.Findings)
	writeAnalyzeSummaryText(w, s.AnalyzeSummary)
	writeKernelStats(w, s.Duration, s.Interfaces)
	return nil
}

// writeCauseCounts writes the incidents counted by cause and upstream, most
// first, as analyze's table does.
func writeCauseCounts(w io.Writer, counts map[causeKey]int) error {
	keys := make([]causeKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if counts[a] != counts[b] {
			return counts[a] > counts[b]
		}
		if a.cause != b.cause {
			return a.cause < b.cause
		}
		return a.upstream < b.upstream
	})
	t := newTable(w)
	t.Header("CAUSE", "UPSTREAM", "INCIDENTS")
	for _, k := range keys {
		if err := t.Append([]string{k.cause, k.upstream, fmt.Sprint(counts[k])}); err != nil {
			return fmt.Errorf("table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}

// WriteKernelStats writes how long a live capture ran and the kernel's
// counters, for standard error when the output is the Markdown postmortem.
func WriteKernelStats(w io.Writer, d time.Duration, ifs []capture.InterfaceStats) error {
	bw := bufio.NewWriter(w)
	writeKernelStats(bw, d, ifs)
	return bw.Flush()
}

// writeKernelStats says how long the capture ran and what each socket's
// kernel counters say, as tcpdump does when it stops.
func writeKernelStats(w *bufio.Writer, d time.Duration, ifs []capture.InterfaceStats) {
	parts := make([]string, 0, len(ifs))
	var drops uint64
	for _, st := range ifs {
		p := fmt.Sprintf("%s: %d packets received by the filter, %d dropped by the kernel", st.Name, st.Packets, st.Drops)
		if st.QueueFreezes > 0 {
			p += fmt.Sprintf(" (ring full %d times)", st.QueueFreezes)
		}
		parts = append(parts, p)
		drops += st.Drops
	}
	fmt.Fprintf(w, "Captured for %s; %s.\n", d.Round(time.Millisecond), strings.Join(parts, "; "))
	if drops > 0 {
		fmt.Fprintf(w, "Warning: the kernel dropped %d packets: some connections have gaps and some incidents may be missing or undecided; "+
			"a larger --buffer-size or a narrower filter helps.\n", drops)
	}
}
