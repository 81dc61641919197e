package report

import (
	"errors"
	"io"
	"testing"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
)

// analyzeSummary runs the pipeline of "why502 analyze" over real captures,
// handing each incident to sink, and returns the summary with the findings
// and the timeline.
func analyzeSummary(t *testing.T, sink func(httpmatch.Incident) error, names ...string) AnalyzeSummary {
	t.Helper()
	r, err := capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	col := findings.New(findings.Options{})
	an := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{}, func(in httpmatch.Incident) {
		col.Incident(in)
		if err := sink(in); err != nil {
			t.Fatal(err)
		}
	})
	tap := findings.NewTap(an, col)
	tr := flows.New(flows.Options{WantData: true}, tap)
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tr.Add(p)
		an.Advance(p.Time)
		tap.Advance(p.Time)
	}
	tr.Flush()
	an.Flush()
	s := AnalyzeSummary{Files: names, Capture: r.Stats(), Flows: tr.Stats(), Analyze: an.Stats()}
	s.Findings = col.Findings(findings.Coverage{Files: names, Capture: s.Capture, Flows: s.Flows, Analyze: s.Analyze})
	s.Timeline = col.Timeline()
	return s
}
