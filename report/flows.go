package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"why502/capture"
	"why502/flows"
)

// FlowsSummary is what a flows run says at the end, after the connections.
type FlowsSummary struct {
	Files    []string
	Capture  capture.Stats
	Flows    flows.Stats
	Warnings []capture.Warning // the first ones; Capture.Warnings counts all
}

// FlowWriter writes one record per connection as connections are handed to
// it, then a summary. It holds nothing per connection.
type FlowWriter struct {
	w      *bufio.Writer
	buf    bytes.Buffer
	enc    *json.Encoder
	format Format
	n      int
	states map[string]int
	err    error
}

// NewFlowWriter returns a writer of connections in format f to w.
func NewFlowWriter(w io.Writer, f Format) *FlowWriter {
	fw := &FlowWriter{w: bufio.NewWriterSize(w, 64<<10), format: f, states: map[string]int{}}
	fw.enc = newEncoder(&fw.buf)
	return fw
}

// Conn writes one connection.
func (fw *FlowWriter) Conn(c *flows.Conn) error {
	if fw.err != nil {
		return fw.err
	}
	fw.states[c.State()]++
	switch fw.format {
	case JSON, JSONL:
		fw.buf.Reset()
		err := fw.enc.Encode(newConnJSON(c))
		b := bytes.TrimSuffix(fw.buf.Bytes(), []byte("\n"))
		if err != nil {
			fw.err = fmt.Errorf("encode connection %d: %w", c.ID, err)
			return fw.err
		}
		switch {
		case fw.format == JSONL:
		case fw.n == 0:
			fw.w.WriteString("{\"connections\": [\n")
		default:
			fw.w.WriteString(",\n")
		}
		fw.w.Write(b)
		if fw.format == JSONL {
			fw.w.WriteByte('\n')
		}
	default:
		if fw.n == 0 {
			fmt.Fprintf(fw.w, tableRow, "START", "CLIENT", "SERVER", "STATE", "BYTES C>S", "BYTES S>C", "DURATION", "CLOSED BY", "SUMMARY")
		}
		td := c.Teardown
		closed := "-"
		if td.Kind != flows.CloseNone {
			closed = td.By.String() + " " + strings.ToUpper(td.Kind.String())
		}
		fmt.Fprintf(fw.w, tableRow,
			c.First.Time.UTC().Format("15:04:05.000000"), c.Client, c.Server, c.State(),
			fmt.Sprint(c.Bytes[flows.ClientToServer]), fmt.Sprint(c.Bytes[flows.ServerToClient]),
			fmt.Sprintf("%.3fs", seconds(c.Last.Sub(c.First.Time))), closed, c.Summary())
	}
	fw.n++
	return nil
}

// tableRow lays out the text table. Fixed widths keep the table streaming:
// a column-fitting table would have to hold every row until the end.
const tableRow = "%-15s  %-21s  %-21s  %-6s  %9s  %9s  %9s  %-10s  %s\n"

// Close writes the summary and flushes.
func (fw *FlowWriter) Close(s FlowsSummary) error {
	if fw.err != nil {
		return fw.err
	}
	switch fw.format {
	case JSON:
		if fw.n == 0 {
			fw.w.WriteString("{\"connections\": [")
		}
		fw.buf.Reset()
		enc := newEncoder(&fw.buf)
		enc.SetIndent("", "  ")
		err := enc.Encode(newSummaryJSON(s, fw.states))
		b := bytes.TrimSuffix(fw.buf.Bytes(), []byte("\n"))
		if err != nil {
			return fmt.Errorf("encode summary: %w", err)
		}
		fw.w.WriteString("\n],\n\"summary\": ")
		fw.w.Write(b)
		fw.w.WriteString("}\n")
	case JSONL:
		// Lines are connections only, so that every line has the same shape
		// for jq; the summary goes to standard error as text (see WriteSummaryText).
	default:
		if fw.n > 0 {
			fw.w.WriteByte('\n')
		}
		writeSummaryText(fw.w, s, fw.states)
	}
	if err := fw.w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// WriteSummaryText writes the summary as text, for standard error when the
// output itself is JSON lines.
func (fw *FlowWriter) WriteSummaryText(w io.Writer, s FlowsSummary) error {
	bw := bufio.NewWriter(w)
	writeSummaryText(bw, s, fw.states)
	return bw.Flush()
}

func writeSummaryText(w *bufio.Writer, s FlowsSummary, states map[string]int) {
	c, f := s.Capture, s.Flows
	fmt.Fprintf(w, "%d connections", f.Conns)
	if len(states) > 0 {
		fmt.Fprintf(w, " (%s)", stateCounts(states))
	}
	fmt.Fprintf(w, " from %d frames (%d TCP) in %s", c.Frames, c.TCP, strings.Join(s.Files, ", "))
	if !c.First.IsZero() {
		fmt.Fprintf(w, ", %s to %s (%.3f s)", formatTime(c.First), formatTime(c.Last), seconds(c.Last.Sub(c.First)))
	}
	w.WriteString(".\n")
	var notes []string
	add := func(n int64, format string) {
		if n > 0 {
			notes = append(notes, fmt.Sprintf(format, n))
		}
	}
	add(c.Filtered, "%d packets left out by the filter")
	add(c.NonTCP, "%d non-TCP frames skipped")
	add(c.Fragments, "%d IP fragments not reassembled")
	add(c.Truncated, "%d packets cut by the snapshot length")
	add(c.Undecodable, "%d frames could not be decoded")
	add(f.Gaps, "%d gaps in TCP streams")
	add(f.Shed, "%d connections shed at the connection cap")
	add(f.Overflows, "%d reassembly buffer overflows")
	if len(notes) > 0 {
		fmt.Fprintf(w, "Note: %s.\n", strings.Join(notes, "; "))
	}
}

// WriteWarnings writes the reader's warnings (the first ones kept, and
// the count of the rest from st), one a line, for standard error.
func WriteWarnings(w io.Writer, prog string, st capture.Stats, warnings []capture.Warning) {
	for _, wn := range warnings {
		fmt.Fprintf(w, "%s: warning: %v\n", prog, wn)
	}
	if more := st.Warnings - int64(len(warnings)); more > 0 {
		fmt.Fprintf(w, "%s: warning: %d more warnings not shown\n", prog, more)
	}
}

func stateCounts(states map[string]int) string {
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if states[keys[i]] != states[keys[j]] {
			return states[keys[i]] > states[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, states[k])
	}
	return strings.Join(parts, ", ")
}
