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

// inputFlags are the flags of every command that reads captures.
type inputFlags struct {
	format   string
	filter   string
	reads    []string
	idle     time.Duration
	maxConns int
	quiet    bool
}

// newFlagSet returns a flag set for command cmd ("flows") with the input
// flags registered in f; usage is the text before the flag list.
func newFlagSet(cmd, usage string, f *inputFlags, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("why502 "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: why502 %s [flags] FILE... | -\n\n%s\n"+
			"FILEs are pcap or pcapng, plain or gzip-compressed; several are merged by time; - reads standard input.\n"+
			"Exit status: 0 done (warnings may have been printed), 1 usage error, 2 unreadable input, 3 output failed.\n\nFlags:\n",
			cmd, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.format, "format", "table", "output format: table, json or jsonl")
	fs.StringVarP(&f.filter, "filter", "f", "", "tcpdump-style filter, e.g. 'host 10.0.0.7 and port 8080'")
	fs.StringArrayVarP(&f.reads, "read", "r", nil, "capture file to read, as with tcpdump -r (repeatable; same as a FILE argument)")
	fs.DurationVar(&f.idle, "idle-timeout", flows.DefaultIdleTimeout, "release a connection silent this long in capture time")
	fs.IntVar(&f.maxConns, "max-conns", flows.DefaultMaxConns, "most connections held at once (about 3.5 KB of heap each; the default keeps a SYN flood under 300 MB of heap with flows, 512 MB with analyze); beyond it the longest idle is shed and counted")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress line (it is shown on standard error only when that is a terminal)")
	return fs
}

// parse parses args; done is true when the command should stop with code
// (help was asked for, or the flags are wrong).
func parse(fs *pflag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return exitOK, true
	case err != nil:
		// pflag says nothing itself with ContinueOnError.
		fmt.Fprintf(fs.Output(), "%s: %v (see --help)\n", fs.Name(), err)
		return exitUsage, true
	}
	return exitOK, false
}

// open checks the format and the filter and opens the captures named by
// -r and the arguments. On failure it says why on stderr and returns the
// exit code.
func (f *inputFlags) open(cmd string, args []string, stdin io.Reader, stderr io.Writer) (report.Format, *capture.Reader, []string, int) {
	format, err := report.ParseFormat(f.format, report.Table, report.JSON, report.JSONL)
	if err != nil {
		fmt.Fprintf(stderr, "why502 %s: %v\n", cmd, err)
		return "", nil, nil, exitUsage
	}
	names := append(f.reads, args...)
	if len(names) == 0 {
		fmt.Fprintf(stderr, "why502 %s: no capture file given (use - for standard input)\n", cmd)
		return "", nil, nil, exitUsage
	}
	opts := capture.Options{Stdin: stdin, Prefetch: true}
	if f.filter != "" {
		if opts.Filter, err = capture.ParseFilter(f.filter); err != nil {
			fmt.Fprintf(stderr, "why502 %s: %v\n", cmd, err)
			return "", nil, nil, exitUsage
		}
	}
	r, err := capture.Open(names, opts)
	if err != nil {
		fmt.Fprintf(stderr, "why502 %s: %v\n", cmd, err)
		return "", nil, nil, exitInput
	}
	return format, r, names, exitOK
}

// pump hands every packet of r to add until the input ends or stop says
// so, and keeps prog's packet count (nil: no progress line) up to date. A
// read error after some packets is returned, not fatal: everything before
// it has been used.
func pump(r *capture.Reader, add func(*capture.Packet), stop func() bool, prog *progressLine) error {
	defer prog.count(r)
	n := 0
	for !stop() {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		add(p)
		if n++; n == progressPackets {
			n = 0
			prog.count(r)
		}
	}
	return nil
}
