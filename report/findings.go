package report

import (
	"bufio"
	"fmt"
	"strings"

	"why502/findings"
	"why502/httpmatch"
)

// findingJSON is the JSON contract for one finding (README: "Findings").
// The kind-specific numbers are present only for the kinds they belong to.
type findingJSON struct {
	Kind       string         `json:"kind"`
	Upstream   *string        `json:"upstream"`
	Start      string         `json:"start"`
	End        *string        `json:"end"`
	Count      int            `json:"count"`
	Conclusion string         `json:"conclusion"`
	Advice     string         `json:"advice"`
	Evidence   []evidenceJSON `json:"evidence"`
	Wireshark  string         `json:"wireshark,omitempty"`

	DownS            *float64       `json:"down_s,omitempty"`
	Crash            *bool          `json:"crash,omitempty"`
	Requests         *int           `json:"requests,omitempty"`
	Retried          *int           `json:"retried,omitempty"`
	WriteTimeoutS    *float64       `json:"write_timeout_s,omitempty"`
	JitterS          *float64       `json:"jitter_s,omitempty"`
	IdleTimeoutS     *float64       `json:"idle_timeout_s,omitempty"`
	IdleSamples      *int           `json:"idle_samples,omitempty"`
	ProxyIdleMaxS    *float64       `json:"proxy_idle_max_s,omitempty"`
	Methods          map[string]int `json:"methods,omitempty"`
	ExtraLatencyS    *float64       `json:"extra_latency_s,omitempty"`
	MaxExtraLatencyS *float64       `json:"max_extra_latency_s,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func newFindingJSON(f *findings.Finding) findingJSON {
	j := findingJSON{
		Kind: string(f.Kind), Start: formatTime(f.Start), Count: f.Count,
		Conclusion: f.Conclusion, Advice: f.Advice, Evidence: []evidenceJSON{},
	}
	if f.Upstream.IsValid() {
		j.Upstream = ptr(f.Upstream.String())
	}
	if !f.End.IsZero() {
		j.End = ptr(formatTime(f.End))
	}
	for _, e := range f.Evidence {
		j.Evidence = append(j.Evidence, evidenceJSON{File: e.File, Frame: e.Frame, Time: formatTime(e.Time), What: e.What})
	}
	if len(f.Conns) > 0 {
		j.Wireshark = incidentFilter(f.Conns)
	}
	switch f.Kind {
	case findings.BackendDown:
		if !f.End.IsZero() {
			j.DownS = ptr(seconds(f.Down))
		}
		j.Crash, j.Requests, j.Retried = ptr(f.Crash), ptr(f.Requests), ptr(f.Retried)
	case findings.StaleUpstream:
		j.Requests, j.Retried = ptr(f.Requests), ptr(f.Retried)
	case findings.WriteTimeout:
		j.WriteTimeoutS, j.JitterS = ptr(seconds(f.WriteTimeout)), ptr(seconds(f.Jitter))
	case findings.KeepaliveRace:
		j.Requests, j.Retried, j.Methods = ptr(f.Requests), ptr(f.Retried), f.Methods
		if f.IdleTimeout > 0 {
			j.IdleTimeoutS, j.JitterS, j.IdleSamples = ptr(seconds(f.IdleTimeout)), ptr(seconds(f.Jitter)), ptr(f.IdleSamples)
		}
		if f.ProxyIdleMax > 0 {
			j.ProxyIdleMaxS = ptr(seconds(f.ProxyIdleMax))
		}
	case findings.HiddenRetries:
		j.Retried = ptr(f.Retried)
		j.ExtraLatencyS, j.MaxExtraLatencyS = ptr(seconds(f.ExtraLatency)), ptr(seconds(f.MaxExtraLatency))
	}
	return j
}

// writeFindingsJSON writes the "findings" array (always present, maybe empty).
func writeFindingsJSON(w *bufio.Writer, fs []findings.Finding) error {
	w.WriteString("\"findings\": [")
	for i := range fs {
		b, err := marshalPlain(newFindingJSON(&fs[i]))
		if err != nil {
			return fmt.Errorf("encode finding: %w", err)
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		w.Write(b)
	}
	w.WriteString("\n],\n")
	return nil
}

// writeFindingsTable writes the findings after the incident tables: one
// block per finding, the conclusion and the advice wrapped.
func writeFindingsTable(w *bufio.Writer, fs []findings.Finding) {
	if len(fs) == 0 {
		return
	}
	w.WriteString("Findings:\n")
	for i := range fs {
		f := &fs[i]
		head := fmt.Sprintf("%d. %s", i+1, f.Kind)
		if f.Upstream.IsValid() {
			head += " " + f.Upstream.String()
		}
		head += " " + findingWindow(f)
		w.WriteString(head + "\n")
		writeWrapped(w, "   ", f.Conclusion, 100)
		writeWrapped(w, "   advice: ", f.Advice, 100)
		if len(f.Evidence) > 0 {
			fmt.Fprintf(w, "   frames: %s\n", framesByFile(f.Evidence, "%s"))
		}
	}
	w.WriteByte('\n')
}

func findingWindow(f *findings.Finding) string {
	if f.Start.IsZero() {
		return ""
	}
	s := f.Start.UTC().Format("15:04:05.000")
	switch {
	case f.End.IsZero():
		s += "-(end of capture)"
	case !f.End.Equal(f.Start):
		s += "-" + f.End.UTC().Format("15:04:05.000")
	}
	return s
}

// writeWrapped writes s in lines of at most width characters, the first
// prefixed with prefix and the others indented as far.
func writeWrapped(w *bufio.Writer, prefix, s string, width int) {
	indent := strings.Repeat(" ", len(prefix))
	line, empty := prefix, true
	for _, word := range strings.Fields(s) {
		if !empty && len(line)+1+len(word) > width {
			w.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	w.WriteString(line + "\n")
}

// framesByFile lists evidence frames grouped by file, files in order of
// first appearance: "12, 14 of a.pcap; 3 of b.pcap". quote formats a file name.
func framesByFile(ev []httpmatch.Evidence, quote string) string {
	var files []string
	byFile := map[string][]string{}
	for _, e := range ev {
		if _, ok := byFile[e.File]; !ok {
			files = append(files, e.File)
		}
		byFile[e.File] = append(byFile[e.File], fmt.Sprint(e.Frame))
	}
	parts := make([]string, len(files))
	for i, f := range files {
		parts[i] = strings.Join(byFile[f], ", ") + " of " + fmt.Sprintf(quote, f)
	}
	return strings.Join(parts, "; ")
}
