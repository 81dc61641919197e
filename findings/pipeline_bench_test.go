package findings_test

import (
	"errors"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
)

// BenchmarkPipeline runs a whole capture through the analyze pipeline
// (flows, the Tap, the Analyzer, the Collector) as `why502 analyze` wires
// it, reading the file each time. WHY502_BENCH_FILE names the capture
// (default: the loopback sample); MB/s counts the file's bytes. Run it
// with -cpuprofile or -memprofile to see where analyze spends.
func BenchmarkPipeline(b *testing.B) {
	name := os.Getenv("WHY502_BENCH_FILE")
	if name == "" {
		name = "../samples/loopback/capture.pcap"
	}
	st, err := os.Stat(name)
	if err != nil {
		b.Skip(err)
	}
	// WHY502_BENCH_HEAP=N writes the live heap after N packets to
	// pipeline.heap, for go tool pprof.
	heapAt, _ := strconv.Atoi(os.Getenv("WHY502_BENCH_HEAP"))
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		r, err := capture.Open([]string{name}, capture.Options{})
		if err != nil {
			b.Fatal(err)
		}
		col := findings.New(findings.Options{})
		an := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{}, col.Incident)
		tap := findings.NewTap(an, col)
		tr := flows.New(flows.Options{WantData: true}, tap)
		n := 0
		for {
			p, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if n++; n == heapAt {
				writeHeap(b)
			}
			tr.Add(p)
			an.Advance(p.Time)
			tap.Advance(p.Time)
		}
		tr.Flush()
		an.Flush()
		col.Findings(findings.Coverage{Files: []string{name}})
		r.Close()
	}
}

func writeHeap(b *testing.B) {
	runtime.GC()
	f, err := os.Create("pipeline.heap")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}
