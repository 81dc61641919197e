// Command why502 explains the 5xx responses of a reverse proxy from packet
// captures: what the backend did when the proxy answered 502, 503 or 504.
//
// This file only parses the command line, wires the stages (capture ->
// flows -> report) and maps failures to exit codes.
package main

import (
	"fmt"
	"io"
	"os"

	"why502/internal/gcbudget"
)

// Exit codes, documented in the README.
const (
	exitOK     = 0 // results written (warnings may have been printed)
	exitUsage  = 1 // bad command line: unknown flag, format or filter
	exitInput  = 2 // an input could not be opened or is not a capture
	exitOutput = 3 // results could not be written
)

const usage = `why502: what did the backend do when the proxy answered 5xx?

Usage:
  why502 flows [flags] FILE... | -     one line per TCP connection in the capture(s)
  why502 analyze [flags] FILE... | -   each 5xx the proxy sent, with the backend event that caused it
  why502 live -i IFACE [flags]         the same, live on the gateway's interfaces (root or CAP_NET_RAW)
  why502 help                         this text

Run "why502 COMMAND --help" for a command's flags.
`

func main() {
	// The collector paces against a memory budget (GOGC or GOMEMLIMIT
	// set in the environment win): set here, not in run, as it is the
	// process's.
	gcbudget.Set(gcbudget.Default)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "flows":
		return runFlows(args[1:], stdin, stdout, stderr)
	case "analyze":
		return runAnalyze(args[1:], stdin, stdout, stderr)
	case "live":
		return runLive(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "why502: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
