// Command incidents checks why502's incident set against nginx's access log
// of the same run: each 5xx line of the log must match one incident of
// `why502 analyze --format json` with the same client address and port, the
// same status and a time within a tolerance, and each incident a line. A
// count that agrees is not enough: a missed 502 and a spurious one cancel out.
//
// Usage: incidents [-tolerance D] [-list N] ACCESS_LOG ANALYZE_JSON
//
// The log is in samples.AccessFormat ($msec $remote_addr:$remote_port ...
// $status ...). It prints the counts matched, missing (in the log, not found
// by why502) and extra (found by why502, not in the log), lists up to N of
// each, and exits 1 when the sets differ, 2 when an input cannot be read.
// bench/compare.sh runs it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	tol := flag.Duration("tolerance", 100*time.Millisecond, "how far apart the log's $msec and the time of the 5xx in the capture may be")
	list := flag.Int("list", 10, "list at most this many missing and this many extra incidents")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: incidents [-tolerance D] [-list N] ACCESS_LOG ANALYZE_JSON")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	same, err := run(os.Stdout, flag.Arg(0), flag.Arg(1), *tol, *list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "incidents:", err)
		os.Exit(2)
	}
	if !same {
		os.Exit(1)
	}
}

func run(w io.Writer, logName, jsonName string, tol time.Duration, list int) (bool, error) {
	lf, err := os.Open(logName)
	if err != nil {
		return false, err
	}
	defer lf.Close()
	logged, lines, err := read5xxLog(lf)
	if err != nil {
		return false, fmt.Errorf("%s: %w", logName, err)
	}
	jf, err := os.Open(jsonName)
	if err != nil {
		return false, err
	}
	defer jf.Close()
	found, err := readIncidents(jf)
	if err != nil {
		return false, fmt.Errorf("%s: %w", jsonName, err)
	}
	r := match(logged, found, tol)
	report(w, r, lines, len(logged), len(found), tol, list)
	return r.same(), nil
}

// same reports whether the two sets agree: nothing missing, nothing extra.
func (r result) same() bool { return len(r.missing) == 0 && len(r.extra) == 0 }

func report(w io.Writer, r result, lines, logged, found int, tol time.Duration, list int) {
	verdict := "EQUAL"
	if !r.same() {
		verdict = "DIFFERENT"
	}
	fmt.Fprintf(w, "incident set: %s: matched %d of %d 5xx in the access log (%d lines); missing %d, extra %d (why502: %d incidents)\n",
		verdict, r.matched, logged, lines, len(r.missing), len(r.extra), found)
	if r.matched > 0 {
		fmt.Fprintf(w, "  match: same client ip:port and status, capture time - $msec within ±%v (seen: %v to %v)\n",
			tol, r.minOffset, r.maxOffset)
	}
	show := func(title string, es []entry) {
		if len(es) == 0 {
			return
		}
		fmt.Fprintf(w, "  %s (%d", title, len(es))
		if len(es) > list {
			fmt.Fprintf(w, ", first %d", list)
		}
		fmt.Fprintln(w, "):")
		for _, e := range es[:min(list, len(es))] {
			fmt.Fprintf(w, "    %s %d %v %s\n", e.time.UTC().Format("15:04:05.000000"), e.status, e.client, e.what)
		}
	}
	show("missing: in the access log, not found by why502", r.missing)
	show("extra: found by why502, not in the access log", r.extra)
}
