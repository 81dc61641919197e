package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"why502/capture"
	"why502/flows"
	"why502/report"
)

type flowsFlags struct {
	format   string
	filter   string
	reads    []string
	idle     time.Duration
	maxConns int
}

func runFlows(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f flowsFlags
	fs := pflag.NewFlagSet("why502 flows", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: why502 flows [flags] FILE... | -\n\n"+
			"One record per TCP connection, oldest first: handshake, bytes, who closed it and how.\n"+
			"FILEs are pcap or pcapng, plain or gzip-compressed; several are merged by time; - reads standard input.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.format, "format", "table", "output format: table, json or jsonl")
	fs.StringVarP(&f.filter, "filter", "f", "", "tcpdump-style filter, e.g. 'host 10.0.0.7 and port 8080'")
	fs.StringArrayVarP(&f.reads, "read", "r", nil, "capture file to read, as with tcpdump -r (repeatable; same as a FILE argument)")
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
		fmt.Fprintf(stderr, "why502 flows: %v\n", err)
		return exitUsage
	}
	names := append(f.reads, fs.Args()...)
	if len(names) == 0 {
		fmt.Fprintf(stderr, "why502 flows: no capture file given (use - for standard input)\n")
		return exitUsage
	}
	opts := capture.Options{Stdin: stdin}
	if f.filter != "" {
		if opts.Filter, err = capture.ParseFilter(f.filter); err != nil {
			fmt.Fprintf(stderr, "why502 flows: filter %q: %v\n", f.filter, err)
			return exitUsage
		}
	}
	r, err := capture.Open(names, opts)
	if err != nil {
		fmt.Fprintf(stderr, "why502 flows: %v\n", err)
		return exitInput
	}
	defer r.Close()

	out := report.NewFlowWriter(stdout, format)
	var writeErr error
	tr := flows.New(flows.Options{IdleTimeout: f.idle, MaxConns: f.maxConns, StartOrder: true},
		doneFunc(func(c *flows.Conn) {
			if writeErr == nil {
				writeErr = out.Conn(c)
			}
		}))
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
	}
	tr.Flush()
	sum := report.FlowsSummary{Files: names, Capture: r.Stats(), Flows: tr.Stats(), Warnings: r.Warnings()}
	report.WriteWarnings(stderr, "why502", sum)
	if readErr != nil {
		// Everything read before the failure has been reported above.
		fmt.Fprintf(stderr, "why502: warning: %v\n", readErr)
	}
	if writeErr == nil {
		writeErr = out.Close(sum)
	}
	if writeErr != nil {
		fmt.Fprintf(stderr, "why502 flows: %v\n", writeErr)
		return exitOutput
	}
	if format == report.JSONL {
		out.WriteSummaryText(stderr, sum)
	}
	return exitOK
}

// doneFunc adapts a function to flows.Handler for consumers that only want
// finished connections, not their bytes.
type doneFunc func(*flows.Conn)

func (doneFunc) Data(*flows.Conn, flows.Chunk) {}
func (doneFunc) Gap(*flows.Conn, flows.Gap)    {}
func (f doneFunc) Done(c *flows.Conn)          { f(c) }
