package main

import (
	"runtime"

	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
)

// newPipeline wires the analysis analyze and live share
// (findings.Pipeline); incident gets each incident after the collector
// has seen it. split runs it on two goroutines when there are two cores:
// analyze does, live does not (its status line reads the counts while it
// runs).
func newPipeline(aopts httpmatch.AnalyzeOptions, fopts flows.Options, split bool, incident func(httpmatch.Incident)) *findings.Pipeline {
	return findings.NewPipeline(findings.PipelineOptions{
		Analyze: aopts, Flows: fopts,
		Split: split && runtime.GOMAXPROCS(0) > 1,
	}, incident)
}
