package main

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
	"why502/report"
)

func runAnalyze(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f inputFlags
	var front, upstream []string
	var sliceDir string
	fs := newFlagSet("analyze", "One incident per 5xx the proxy sent, with the upstream event that caused it and the frames that prove it;\n"+
		"then requests that succeeded only after a failed upstream attempt (hidden failures).", &f, stderr)
	fs.StringArrayVar(&front, "front", nil, "the proxy's listening ip:port (repeatable; default: inferred)")
	fs.StringArrayVar(&upstream, "upstream", nil, "a backend ip:port, ip or network (repeatable; default: inferred)")
	fs.StringVar(&sliceDir, "slice", "", "write one small pcapng per incident and per finding into this directory (reads the files twice)")
	fs.Lookup("format").Usage = "output format: table, json, jsonl or markdown (a postmortem section)"
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
	// markdown is analyze's own format: the shared input flags check the others.
	markdown := f.format == string(report.Markdown)
	if markdown {
		f.format = string(report.Table)
	}
	format, r, names, code := f.open("analyze", fs.Args(), stdin, stderr)
	if code != exitOK {
		return code
	}
	defer r.Close()
	if sliceDir != "" && slices.Contains(names, "-") {
		fmt.Fprintf(stderr, "why502 analyze: --slice reads the input twice: give files, not standard input\n")
		return exitUsage
	}

	prog := startProgress(r, stderr, f.quiet)
	defer prog.finish()
	w := prog.output(stdout)
	var out incidentOutput = report.NewIncidentWriter(w, format)
	if markdown {
		format = report.Markdown
		out = report.NewMarkdownWriter(w, report.MarkdownOptions{Command: reproduce(f.filter, front, upstream, names)})
	}
	// The incidents come from the pipeline's second goroutine: writeErr
	// and slicesWanted are this function's again after Flush, failed
	// tells the reading loop to stop meanwhile.
	var writeErr error
	var failed atomic.Bool
	var slicesWanted []report.Slice
	pl := newPipeline(aopts, flows.Options{IdleTimeout: f.idle, MaxConns: f.maxConns}, true, func(in httpmatch.Incident) {
		if sliceDir != "" && len(slicesWanted) < maxSlices {
			slicesWanted = append(slicesWanted, report.IncidentSlice(len(slicesWanted)+1, &in))
		}
		if writeErr == nil {
			if writeErr = out.Incident(in); writeErr != nil {
				failed.Store(true)
			}
		}
	})
	defer pl.Close()
	readErr := pump(r, pl.Add, failed.Load, prog)
	pl.Flush()
	prog.finish()
	sum := report.NewAnalyzeSummary(pl, names, r.Stats(), r.Warnings())
	if sliceDir != "" {
		if code := writeSlices(sliceDir, f, names, slicesWanted, sum.Findings, stderr); code != exitOK {
			return code
		}
	}
	report.WriteWarnings(stderr, "why502", sum.Capture, sum.Warnings)
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
	if iw, ok := out.(*report.IncidentWriter); ok && format == report.JSONL {
		iw.WriteSummaryText(stderr, sum)
	}
	return exitOK
}

// reproduce is the command line that gives the same analysis, for the
// Markdown report: the input flags and files, not the output ones.
func reproduce(filter string, front, upstream, names []string) string {
	parts := []string{"why502 analyze"}
	if filter != "" {
		parts = append(parts, "-f '"+filter+"'")
	}
	for _, s := range front {
		parts = append(parts, "--front "+s)
	}
	for _, s := range upstream {
		parts = append(parts, "--upstream "+s)
	}
	return strings.Join(append(parts, names...), " ")
}

// incidentOutput is what analyze writes incidents to: the table/JSON
// writer or the Markdown postmortem.
type incidentOutput interface {
	Incident(httpmatch.Incident) error
	Close(report.AnalyzeSummary) error
}

// maxSlices bounds the incident slices --slice writes (each is a file).
const maxSlices = 200

// writeSlices reads the inputs a second time and writes the slices of
// the incidents and the findings into dir.
func writeSlices(dir string, f inputFlags, names []string, sl []report.Slice, fs []findings.Finding, stderr io.Writer) int {
	for i := range fs {
		if s, ok := report.FindingSlice(i+1, &fs[i]); ok {
			sl = append(sl, s)
		}
	}
	opts := capture.Options{}
	if f.filter != "" {
		opts.Filter, _ = capture.ParseFilter(f.filter) // parsed once already
	}
	r, err := capture.Open(names, opts)
	if err != nil {
		fmt.Fprintf(stderr, "why502 analyze: --slice: %v\n", err)
		return exitInput
	}
	defer r.Close()
	res, err := report.WriteSlices(dir, r, sl)
	if err != nil {
		fmt.Fprintf(stderr, "why502 analyze: --slice: %v\n", err)
		return exitOutput
	}
	fmt.Fprintf(stderr, "why502 analyze: wrote %d slices into %s\n", len(res), dir)
	return exitOK
}
