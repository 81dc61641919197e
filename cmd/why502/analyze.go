package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/spf13/pflag"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
	"why502/report"
)

type analyzeFlags struct {
	format   string
	filter   string
	reads    []string
	front    []string
	upstream []string
	idle     time.Duration
	maxConns int
}

func runAnalyze(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f analyzeFlags
	fs := pflag.NewFlagSet("why502 analyze", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: why502 analyze [flags] FILE... | -\n\n"+
			"One incident per 5xx the proxy sent, with the upstream event that caused it and the frames that prove it;\n"+
			"then requests that succeeded only after a failed upstream attempt (hidden failures).\n"+
			"FILEs are pcap or pcapng, plain or gzip-compressed; several are merged by time; - reads standard input.\n"+
			"Exit status: 0 analyzed (with or without incidents), 1 usage error, 2 unreadable input, 3 output failed.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.format, "format", "table", "output format: table, json or jsonl")
	fs.StringVarP(&f.filter, "filter", "f", "", "tcpdump-style filter, e.g. 'host 10.0.0.7 or port 80'")
	fs.StringArrayVarP(&f.reads, "read", "r", nil, "capture file to read, as with tcpdump -r (repeatable; same as a FILE argument)")
	fs.StringArrayVar(&f.front, "front", nil, "the proxy's listening ip:port (repeatable; default: inferred)")
	fs.StringArrayVar(&f.upstream, "upstream", nil, "a backend ip:port, ip or network (repeatable; default: inferred)")
	fs.DurationVar(&f.idle, "idle-timeout", 5*time.Minute, "release a connection silent this long in capture time")
	fs.IntVar(&f.maxConns, "max-conns", 1<<20, "most connections tracked at once; beyond it the longest idle is shed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	format, err := report.ParseFormat(f.format, report.Table, report.JSON, report.JSONL)
	if err != nil {
		fmt.Fprintf(stderr, "why502 analyze: %v\n", err)
		return exitUsage
	}
	var aopts httpmatch.AnalyzeOptions
	for _, s := range f.front {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			fmt.Fprintf(stderr, "why502 analyze: --front %q: want ip:port ([ipv6]:port)\n", s)
			return exitUsage
		}
		aopts.Front = append(aopts.Front, ap)
	}
	for _, s := range f.upstream {
		e, err := httpmatch.ParseEndpoint(s)
		if err != nil {
			fmt.Fprintf(stderr, "why502 analyze: --upstream: %v\n", err)
			return exitUsage
		}
		aopts.Upstream = append(aopts.Upstream, e)
	}
	names := append(f.reads, fs.Args()...)
	if len(names) == 0 {
		fmt.Fprintf(stderr, "why502 analyze: no capture file given (use - for standard input)\n")
		return exitUsage
	}
	opts := capture.Options{Stdin: stdin}
	if f.filter != "" {
		if opts.Filter, err = capture.ParseFilter(f.filter); err != nil {
			fmt.Fprintf(stderr, "why502 analyze: filter %q: %v\n", f.filter, err)
			return exitUsage
		}
	}
	r, err := capture.Open(names, opts)
	if err != nil {
		fmt.Fprintf(stderr, "why502 analyze: %v\n", err)
		return exitInput
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
	var readErr error
	for writeErr == nil {
		p, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		tr.Add(p)
		an.Advance(p.Time)
	}
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
