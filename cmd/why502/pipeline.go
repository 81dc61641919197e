package main

import (
	"runtime"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
	"why502/report"
)

// newPipeline wires the analysis analyze and live share
// (findings.Pipeline); incident gets each incident after the collector
// has seen it. split runs it on two goroutines when there are two cores:
// analyze does, live does not (its status line reads the counts while it
// runs).
func newPipeline(aopts httpmatch.AnalyzeOptions, fopts flows.Options, split bool, incident func(httpmatch.Incident)) *findings.Pipeline {
	if aopts.MaxAttempts == 0 {
		// One knob: --max-conns bounds the connect attempts kept for
		// matching as it bounds the connections tracked.
		aopts.MaxAttempts = fopts.MaxConns
	}
	return findings.NewPipeline(findings.PipelineOptions{
		Analyze: aopts, Flows: fopts,
		Split: split && runtime.GOMAXPROCS(0) > 1,
	}, incident)
}

// summary is what both commands say at the end, the findings included;
// call it after Flush. names are the files (or interfaces) read.
func summary(pl *findings.Pipeline, names []string, cs capture.Stats, warnings []capture.Warning) report.AnalyzeSummary {
	sum := report.AnalyzeSummary{Files: names, Capture: cs, Flows: pl.Tracker.Stats(), Analyze: pl.Analyzer.Stats(), Warnings: warnings}
	sum.Findings = pl.Findings(names, cs)
	sum.Timeline = pl.Collector.Timeline()
	return sum
}
