package main

import (
	"time"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
	"why502/report"
)

// pipeline is the analysis analyze and live share: the connections, the
// analyzer, and the findings collector tapped between them (it also needs
// the connections that produced no 5xx). Both commands build it here so
// that they give the same incidents and findings on the same packets.
type pipeline struct {
	tr  *flows.Tracker
	an  *httpmatch.Analyzer
	tap *findings.Tap
	col *findings.Collector
}

// newPipeline wires the stages; incident gets each incident after the
// collector has seen it.
func newPipeline(aopts httpmatch.AnalyzeOptions, fopts flows.Options, incident func(httpmatch.Incident)) *pipeline {
	pl := &pipeline{col: findings.New(findings.Options{})}
	pl.an = httpmatch.NewAnalyzer(aopts, func(in httpmatch.Incident) {
		pl.col.Incident(in)
		incident(in)
	})
	pl.tap = findings.NewTap(pl.an, pl.col)
	pl.tr = flows.New(fopts, pl.tap)
	return pl
}

// add takes one packet; its time is the capture time of the later stages.
func (pl *pipeline) add(p *capture.Packet) {
	pl.tr.Add(p)
	pl.an.Advance(p.Time)
	pl.tap.Advance(p.Time)
}

// advance moves capture time to t while no packet comes (a live tick).
func (pl *pipeline) advance(t time.Time) {
	pl.tr.Advance(t)
	pl.an.Advance(t)
	pl.tap.Advance(t)
}

// flush decides everything still waiting, at the end of the input.
func (pl *pipeline) flush() {
	pl.tr.Flush()
	pl.an.Flush()
}

// summary is what both commands say at the end, the findings included;
// call it after flush. names are the files (or interfaces) read.
func (pl *pipeline) summary(names []string, cs capture.Stats, warnings []capture.Warning) report.AnalyzeSummary {
	sum := report.AnalyzeSummary{Files: names, Capture: cs, Flows: pl.tr.Stats(), Analyze: pl.an.Stats(), Warnings: warnings}
	sum.Findings = pl.col.Findings(findings.Coverage{Files: names, Capture: sum.Capture, Flows: sum.Flows, Analyze: sum.Analyze})
	sum.Timeline = pl.col.Timeline()
	return sum
}
