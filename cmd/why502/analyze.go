package main

import (
	"fmt"
	"io"
	"net/netip"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
	"why502/report"
)

func runAnalyze(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f inputFlags
	var front, upstream []string
	fs := newFlagSet("analyze", "One incident per 5xx the proxy sent, with the upstream event that caused it and the frames that prove it;\n"+
		"then requests that succeeded only after a failed upstream attempt (hidden failures).", &f, stderr)
	fs.StringArrayVar(&front, "front", nil, "the proxy's listening ip:port (repeatable; default: inferred)")
	fs.StringArrayVar(&upstream, "upstream", nil, "a backend ip:port, ip or network (repeatable; default: inferred)")
	if code, done := parse(fs, args); done {
		return code
	}
	var aopts httpmatch.AnalyzeOptions
	for _, s := range front {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			fmt.Fprintf(stderr, "why502 analyze: --front %q: want ip:port ([ipv6]:port)\n", s)
			return exitUsage
		}
		aopts.Front = append(aopts.Front, ap)
	}
	for _, s := range upstream {
		e, err := httpmatch.ParseEndpoint(s)
		if err != nil {
			fmt.Fprintf(stderr, "why502 analyze: --upstream: %v\n", err)
			return exitUsage
		}
		aopts.Upstream = append(aopts.Upstream, e)
	}
	format, r, names, code := f.open("analyze", fs.Args(), stdin, stderr)
	if code != exitOK {
		return code
	}
	defer r.Close()

	out := report.NewIncidentWriter(stdout, format)
	var writeErr error
	an := httpmatch.NewAnalyzer(aopts, func(in httpmatch.Incident) {
		if writeErr == nil {
			writeErr = out.Incident(in)
		}
	})
	tr := flows.New(flows.Options{IdleTimeout: f.idle, MaxConns: f.maxConns, WantData: true}, an)
	readErr := pump(r, func(p *capture.Packet) {
		tr.Add(p)
		an.Advance(p.Time)
	}, func() bool { return writeErr != nil })
	tr.Flush()
	an.Flush()
	sum := report.AnalyzeSummary{Files: names, Capture: r.Stats(), Flows: tr.Stats(), Analyze: an.Stats(), Warnings: r.Warnings()}
	report.WriteWarnings(stderr, "why502", report.FlowsSummary{Capture: sum.Capture, Warnings: sum.Warnings})
	if readErr != nil {
		fmt.Fprintf(stderr, "why502: warning: %v\n", readErr)
	}
	if writeErr == nil {
		writeErr = out.Close(sum)
	}
	if writeErr != nil {
		fmt.Fprintf(stderr, "why502 analyze: %v\n", writeErr)
		return exitOutput
	}
	if format == report.JSONL {
		out.WriteSummaryText(stderr, sum)
	}
	return exitOK
}
