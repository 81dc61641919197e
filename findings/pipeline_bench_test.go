package findings_test

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"why502/capture"
	"why502/findings"
)

// BenchmarkPipeline runs a whole capture through the analyze pipeline
// (findings.Pipeline: flows, the Analyzer, the Collector), on one
// goroutine ("one") and split on two ("split", as `why502 analyze` runs
// it), reading the file each time (read ahead: capture.Options.Prefetch). WHY502_BENCH_FILE names the capture
// (default: the loopback sample); MB/s counts the file's bytes. Run it
// with -cpuprofile or -memprofile to see where analyze spends.
func BenchmarkPipeline(b *testing.B) {
	file := os.Getenv("WHY502_BENCH_FILE")
	if file == "" {
		file = "../samples/loopback/capture.pcap"
	}
	st, err := os.Stat(file)
	if err != nil {
		b.Skip(err)
	}
	// WHY502_BENCH_HEAP=N writes the live heap after N packets to
	// pipeline.heap, for go tool pprof.
	heapAt, _ := strconv.Atoi(os.Getenv("WHY502_BENCH_HEAP"))
	for _, split := range []bool{false, true} {
		name := "one"
		if split {
			name = "split"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				r, err := capture.Open([]string{file}, capture.Options{Prefetch: true})
				if err != nil {
					b.Fatal(err)
				}
				pl := findings.NewPipeline(findings.PipelineOptions{Split: split}, nil)
				n := 0
				if err := r.Each(func(p *capture.Packet) {
					if n++; n == heapAt {
						writeHeap(b)
					}
					pl.Add(p)
				}); err != nil {
					b.Fatal(err)
				}
				pl.Flush()
				pl.Findings([]string{file}, r.Stats())
				r.Close()
			}
		})
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
