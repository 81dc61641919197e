package report

import (
	"testing"

	"why502/capture"
	"why502/findings"
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
	pl := findings.NewPipeline(findings.PipelineOptions{}, func(in httpmatch.Incident) {
		if err := sink(in); err != nil {
			t.Fatal(err)
		}
	})
	if err := r.Each(func(p *capture.Packet) {
		pl.Add(p)
	}); err != nil {
		t.Fatal(err)
	}
	pl.Flush()
	return NewAnalyzeSummary(pl, names, r.Stats(), nil)
}
