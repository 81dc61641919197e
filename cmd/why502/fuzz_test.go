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
// what it could not) or says the input is not a capture (exit 2).
func FuzzAnalyze(f *testing.F) {
	seeds, _ := filepath.Glob("../../samples/*/*.pcap*")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil || len(b) > 1<<20 {
			continue
		}
		f.Add(b)
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
