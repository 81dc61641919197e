package main

import (
	"fmt"
	"io"

	"why502/flows"
	"why502/report"
)

func runFlows(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f inputFlags
	fs := newFlagSet("flows", "One record per TCP connection, oldest first: handshake, bytes, who closed it and how.", &f, stderr)
	if code, done := parse(fs, args); done {
		return code
	}
	format, r, names, code := f.open("flows", fs.Args(), stdin, stderr)
	if code != exitOK {
		return code
	}
	defer r.Close()

	prog := startProgress(r, stderr, f.quiet)
	defer prog.finish()
	out := report.NewFlowWriter(prog.output(stdout), format)
	var writeErr error
	tr := flows.New(flows.Options{IdleTimeout: f.idle, MaxConns: f.maxConns, StartOrder: true},
		doneFunc(func(c *flows.Conn) {
			if writeErr == nil {
				writeErr = out.Conn(c)
			}
		}))
	readErr := pump(r, tr.Add, func() bool { return writeErr != nil }, prog)
	tr.Flush()
	prog.finish()
	sum := report.FlowsSummary{Files: names, Capture: r.Stats(), Flows: tr.Stats(), Warnings: r.Warnings()}
	report.WriteWarnings(stderr, "why502", sum.Capture, sum.Warnings)
	if readErr != nil {
		// Everything read before the failure has been reported.
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
