package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
)

// AnalyzeSummary is what an analyze run says at the end.
type AnalyzeSummary struct {
	Files    []string
	Capture  capture.Stats
	Flows    flows.Stats
	Analyze  httpmatch.AnalyzeStats
	Warnings []capture.Warning
	// Findings and Timeline come from a findings.Collector, when the
	// command ran one (issue 5); the JSON document always has "findings".
	Findings []findings.Finding
	Timeline map[netip.AddrPort][]findings.TimelineRow
}

// NewAnalyzeSummary is what pl found, for a summary; call it after
// pl.Flush. names are the files (or interfaces) read, cs and warnings
// their reader's.
func NewAnalyzeSummary(pl *findings.Pipeline, names []string, cs capture.Stats, warnings []capture.Warning) AnalyzeSummary {
	return AnalyzeSummary{
		Files: names, Capture: cs, Flows: pl.Tracker.Stats(), Analyze: pl.Analyzer.Stats(), Warnings: warnings,
		Findings: pl.Findings(names, cs),
		Timeline: pl.Collector.Timeline(),
	}
}

// incidentJSON is the JSON contract for one incident (README: "why502 analyze").
type incidentJSON struct {
	Time        string         `json:"time"`
	Status      int            `json:"status"`
	Client      string         `json:"client"`
	Proxy       string         `json:"proxy"`
	Method      string         `json:"method"`
	URI         string         `json:"uri"`
	Host        string         `json:"host"`
	Upstream    *string        `json:"upstream"`
	Cause       string         `json:"cause"`
	Inferred    bool           `json:"inferred"`
	Missing     []string       `json:"missing,omitempty"`
	Attempts    []attemptJSON  `json:"attempts"`
	Explanation string         `json:"explanation"`
	Evidence    []evidenceJSON `json:"evidence"`
	Wireshark   string         `json:"wireshark"`
	// Hidden marks a hidden failure on a JSON line; in the JSON document
	// hidden failures have their own array and omit it.
	Hidden bool `json:"hidden_failure,omitempty"`
}

type attemptJSON struct {
	Upstream string  `json:"upstream"`
	Local    string  `json:"local"`
	Outcome  string  `json:"outcome"`
	Reused   bool    `json:"reused"`
	IdleS    float64 `json:"idle_s"`
}

type evidenceJSON struct {
	File  string `json:"file"`
	Frame int64  `json:"frame"`
	Time  string `json:"time"`
	What  string `json:"what"`
}

// The counts of incomplete evidence are present only when not zero, so
// that a clean capture's summary keeps its shape.
type analyzeSummaryJSON struct {
	Requests        int64            `json:"requests"`
	Responses5xx    int64            `json:"responses_5xx"`
	WithoutRequest  int64            `json:"responses_without_request,omitempty"`
	ByCause         map[string]int64 `json:"by_cause"`
	ShedConns       int64            `json:"shed_connections,omitempty"`
	IdleExpiredConn int64            `json:"idle_expired_connections,omitempty"`
	ShedAttempts    int64            `json:"shed_connect_attempts,omitempty"`
	ShedNotUpstream int64            `json:"shed_connect_attempts_not_upstream,omitempty"`
}

func newIncidentJSON(in *httpmatch.Incident) incidentJSON {
	j := incidentJSON{
		Time: formatTime(in.Time), Status: in.Status,
		Client: in.Client.String(), Proxy: in.Proxy.String(),
		Method: in.Method, URI: in.URI, Host: in.Host,
		Cause: string(in.Cause), Inferred: in.Inferred, Missing: in.Missing,
		Attempts:    []attemptJSON{},
		Explanation: in.Explanation,
		Evidence:    []evidenceJSON{},
		Wireshark:   incidentFilter(in.Conns),
	}
	if in.Upstream.IsValid() {
		s := in.Upstream.String()
		j.Upstream = &s
	}
	for _, a := range in.Attempts {
		j.Attempts = append(j.Attempts, attemptJSON{
			Upstream: a.Upstream.String(), Local: a.Local.String(),
			Outcome: string(a.Outcome), Reused: a.Reused, IdleS: seconds(a.Idle),
		})
	}
	for _, e := range in.Evidence {
		j.Evidence = append(j.Evidence, evidenceJSON{File: e.File, Frame: e.Frame, Time: formatTime(e.Time), What: e.What})
	}
	return j
}

// incidentFilter is a Wireshark display filter for all the connections of
// an incident.
func incidentFilter(conns [][2]netip.AddrPort) string {
	parts := make([]string, 0, len(conns))
	seen := map[[2]netip.AddrPort]bool{}
	for _, c := range conns {
		if seen[c] {
			continue
		}
		seen[c] = true
		parts = append(parts, WiresharkFilter(c[0], c[1]))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, ") || (") + ")"
}

// IncidentWriter writes incidents as they are decided, then a summary.
// JSON lines are written at once; the JSON document streams its incidents
// and holds the hidden failures for their own array; the table holds its
// rows, because tablewriter fits columns to them.
type IncidentWriter struct {
	w      *bufio.Writer
	json   plainJSON
	format Format
	n      int
	hidden []httpmatch.Incident
	rows   []httpmatch.Incident
	err    error
}

// NewIncidentWriter returns a writer of incidents in format f to w.
func NewIncidentWriter(w io.Writer, f Format) *IncidentWriter {
	return &IncidentWriter{w: bufio.NewWriterSize(w, 64<<10), format: f}
}

// Incident writes (or holds) one incident or hidden failure.
func (iw *IncidentWriter) Incident(in httpmatch.Incident) error {
	if iw.err != nil {
		return iw.err
	}
	switch iw.format {
	case JSONL:
		j := newIncidentJSON(&in)
		j.Hidden = in.Hidden
		b, err := iw.json.marshal(j)
		if err != nil {
			iw.err = fmt.Errorf("encode incident: %w", err)
			return iw.err
		}
		iw.w.Write(b)
		iw.w.WriteByte('\n')
	case JSON:
		if in.Hidden {
			iw.hidden = append(iw.hidden, in)
			return nil
		}
		b, err := iw.json.marshal(newIncidentJSON(&in))
		if err != nil {
			iw.err = fmt.Errorf("encode incident: %w", err)
			return iw.err
		}
		if iw.n == 0 {
			iw.w.WriteString("{\"incidents\": [\n")
		} else {
			iw.w.WriteString(",\n")
		}
		iw.w.Write(b)
		iw.n++
	default:
		if in.Hidden {
			iw.hidden = append(iw.hidden, in)
		} else {
			iw.rows = append(iw.rows, in)
		}
	}
	return nil
}

// Close writes what was held and the summary, and flushes.
func (iw *IncidentWriter) Close(s AnalyzeSummary) error {
	if iw.err != nil {
		return iw.err
	}
	switch iw.format {
	case JSON:
		if iw.n == 0 {
			iw.w.WriteString("{\"incidents\": [")
		}
		iw.w.WriteString("\n],\n\"hidden_failures\": [")
		for i := range iw.hidden {
			b, err := iw.json.marshal(newIncidentJSON(&iw.hidden[i]))
			if err != nil {
				return fmt.Errorf("encode hidden failure: %w", err)
			}
			if i > 0 {
				iw.w.WriteByte(',')
			}
			iw.w.WriteByte('\n')
			iw.w.Write(b)
		}
		b, err := json.MarshalIndent(newAnalyzeSummaryJSON(s), "", "  ")
		if err != nil {
			return fmt.Errorf("encode summary: %w", err)
		}
		iw.w.WriteString("\n],\n")
		if err := writeFindingsJSON(iw.w, s.Findings); err != nil {
			return err
		}
		iw.w.WriteString("\"summary\": ")
		iw.w.Write(b)
		iw.w.WriteString("}\n")
	case JSONL:
		// Lines are incidents only; the summary goes to standard error (WriteSummaryText).
	default:
		if err := iw.writeTable(s); err != nil {
			return err
		}
	}
	if err := iw.w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func newAnalyzeSummaryJSON(s AnalyzeSummary) analyzeSummaryJSON {
	j := analyzeSummaryJSON{Requests: s.Analyze.Requests, Responses5xx: s.Analyze.Responses5xx, ByCause: map[string]int64{},
		WithoutRequest: s.Analyze.WithoutRequest, ShedConns: s.Flows.Shed, IdleExpiredConn: s.Flows.Expired,
		ShedAttempts: s.Analyze.ShedAttempts, ShedNotUpstream: s.Analyze.ShedNotUpstream}
	for c, n := range s.Analyze.ByCause {
		j.ByCause[string(c)] = n
	}
	return j
}

// explanationWidth wraps the long columns (explanations, URIs) so that a
// row fits a wide terminal instead of running to hundreds of columns.
const (
	explanationColumn = 6 // EXPLANATION, the last column of the incident table
	explanationWidth  = 72
)

func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNormal),
		tablewriter.WithColumnWidths(tw.NewMapper[int, int]().Set(explanationColumn, explanationWidth)),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
	)
}

func incidentRow(in *httpmatch.Incident) []string {
	up := "-"
	if in.Upstream.IsValid() {
		up = in.Upstream.String()
	}
	cause := string(in.Cause)
	if in.Inferred {
		cause += " (inferred)"
	}
	request := in.Method + " " + in.URI
	if in.Method == "" && in.URI == "" {
		request = "(not captured)"
	}
	return []string{
		in.Time.UTC().Format("15:04:05.000000"), fmt.Sprint(in.Status), in.Client.String(),
		request, up, cause, in.Explanation,
	}
}

func (iw *IncidentWriter) writeTable(s AnalyzeSummary) error {
	header := []any{"TIME", "STATUS", "CLIENT", "REQUEST", "UPSTREAM", "CAUSE", "EXPLANATION"}
	if len(iw.rows) > 0 {
		t := newTable(iw.w)
		t.Header(header...)
		for i := range iw.rows {
			if err := t.Append(incidentRow(&iw.rows[i])); err != nil {
				return fmt.Errorf("table: %w", err)
			}
		}
		if err := t.Render(); err != nil {
			return fmt.Errorf("table: %w", err)
		}
		iw.w.WriteByte('\n')
	}
	if len(iw.hidden) > 0 {
		iw.w.WriteString("Hidden failures (the client got an answer, after a failed upstream attempt):\n")
		t := newTable(iw.w)
		t.Header(header...)
		for i := range iw.hidden {
			if err := t.Append(incidentRow(&iw.hidden[i])); err != nil {
				return fmt.Errorf("table: %w", err)
			}
		}
		if err := t.Render(); err != nil {
			return fmt.Errorf("table: %w", err)
		}
		iw.w.WriteByte('\n')
	}
	if len(iw.rows) > 0 {
		if err := iw.writeByCause(); err != nil {
			return err
		}
		iw.w.WriteByte('\n')
	}
	writeFindingsTable(iw.w, s.Findings)
	writeAnalyzeSummaryText(iw.w, s)
	return nil
}

// writeByCause writes the incidents counted by cause and upstream, most first.
func (iw *IncidentWriter) writeByCause() error {
	counts := map[causeKey]int{}
	for _, in := range iw.rows {
		up := "-"
		if in.Upstream.IsValid() {
			up = in.Upstream.String()
		}
		counts[causeKey{string(in.Cause), up}]++
	}
	return writeCauseCounts(iw.w, counts)
}

// WriteSummaryText writes the summary as text, for standard error when the
// output itself is JSON lines.
func (iw *IncidentWriter) WriteSummaryText(w io.Writer, s AnalyzeSummary) error {
	bw := bufio.NewWriter(w)
	writeAnalyzeSummaryText(bw, s)
	return bw.Flush()
}

func writeAnalyzeSummaryText(w *bufio.Writer, s AnalyzeSummary) {
	a := s.Analyze
	fmt.Fprintf(w, "%d front requests, %d answered 5xx", a.Requests, a.Responses5xx)
	if a.WithoutRequest > 0 {
		fmt.Fprintf(w, " (%d without their request in the capture)", a.WithoutRequest)
	}
	if a.HiddenFailures > 0 {
		fmt.Fprintf(w, ", %d hidden failures", a.HiddenFailures)
	}
	fmt.Fprintf(w, "; %d connections from %d frames in %s.\n", s.Flows.Conns, s.Capture.Frames, strings.Join(s.Files, ", "))
	if s.Flows.Gaps > 0 || s.Capture.Truncated > 0 {
		fmt.Fprintf(w, "Note: %d gaps in TCP streams, %d packets cut by the snapshot length.\n", s.Flows.Gaps, s.Capture.Truncated)
	}
	if s.Flows.Shed > 0 || s.Flows.Expired > 0 {
		fmt.Fprintf(w, "Note: %d connections shed at --max-conns, %d expired idle past --idle-timeout: incidents on them may be missing.\n",
			s.Flows.Shed, s.Flows.Expired)
	}
	if n, not := a.ShedAttempts, a.ShedNotUpstream; n > 0 {
		if not == n {
			fmt.Fprintf(w, "Note: %d connect attempts shed at --max-conns, all to the proxy's front (a SYN flood) or to no upstream: no incident lost an attempt to it.\n", n)
		} else {
			fmt.Fprintf(w, "Note: %d connect attempts shed at --max-conns (%d to the proxy's front or to no upstream): an incident without an upstream attempt while they were shed says so.\n", n, not)
		}
	}
}

// marshalPlain is json.Marshal without HTML escaping: display filters are
// full of "&&", which should stay readable and pasteable.
func marshalPlain(v any) ([]byte, error) {
	var p plainJSON
	return p.marshal(v)
}

// plainJSON is marshalPlain with its buffer and encoder kept for the next
// value (IncidentWriter: one per incident).
type plainJSON struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// marshal encodes v; the result is valid until the next call.
func (p *plainJSON) marshal(v any) ([]byte, error) {
	if p.enc == nil {
		p.enc = json.NewEncoder(&p.buf)
		p.enc.SetEscapeHTML(false)
	}
	p.buf.Reset()
	if err := p.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(p.buf.Bytes(), []byte{'\n'}), nil
}
