package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzAnalyze runs the whole analyze pipeline (capture, flows, HTTP,
// correlation, report) on mutated real captures: whatever the bytes, it
// must not panic, and it either reads the input (exit 0, with warnings for
// what it could not) or says the input is not a capture (exit 2). On two
// cores it runs the two-goroutine pipeline, as the command does. Run it
// with -fuzzminimizetime 0: its inputs are whole captures (20-40 KB) that
// the default minimization spends minutes on without shrinking.
func FuzzAnalyze(f *testing.F) {
	// The first 16 KB of each sample: whole captures make each run slow
	// and leave the mutator little to do (Go's fuzzer spends minutes
	// minimizing a large input); a cut capture is realistic input too.
	seeds, _ := filepath.Glob("../../samples/*/*.pcap*")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		f.Add(b[:min(len(b), 16<<10)])
	}
	f.Fuzz(func(t *testing.T, capture []byte) {
		for _, format := range []string{"json", "table"} {
			var errb bytes.Buffer
			code := run([]string{"analyze", "--format", format, "-"}, bytes.NewReader(capture), io.Discard, &errb)
			if code != exitOK && code != exitInput {
				t.Fatalf("exit %d (want %d or %d); stderr:\n%s", code, exitOK, exitInput, errb.String())
			}
			if code == exitInput && errb.Len() == 0 {
				t.Fatal("exit 2 without a message")
			}
		}
	})
}
