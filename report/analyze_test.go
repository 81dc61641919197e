package report

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"why502/capture"
	"why502/findings"
	"why502/flows"
	"why502/httpmatch"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// analyzeFiles runs the pipeline of "why502 analyze" over real captures.
func analyzeFiles(t *testing.T, f Format, names ...string) []byte {
	t.Helper()
	r, err := capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	iw := NewIncidentWriter(&out, f)
	col := findings.New(findings.Options{})
	an := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{}, func(in httpmatch.Incident) {
		col.Incident(in)
		if err := iw.Incident(in); err != nil {
			t.Fatal(err)
		}
	})
	tap := findings.NewTap(an, col)
	tr := flows.New(flows.Options{WantData: true}, tap)
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tr.Add(p)
		an.Advance(p.Time)
		tap.Advance(p.Time)
	}
	tr.Flush()
	an.Flush()
	sum := AnalyzeSummary{Files: names, Capture: r.Stats(), Flows: tr.Stats(), Analyze: an.Stats()}
	sum.Findings = col.Findings(findings.Coverage{Files: names, Capture: sum.Capture, Flows: sum.Flows, Analyze: sum.Analyze})
	if err := iw.Close(sum); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestAnalyzeGolden(t *testing.T) {
	const samples = "../samples"
	tests := []struct {
		name   string
		format Format
		files  []string
	}{
		{"loopback.table", Table, []string{"loopback/capture.pcap"}},
		{"loopback.json", JSON, []string{"loopback/capture.pcap"}},
		{"loopback.jsonl", JSONL, []string{"loopback/capture.pcap"}},
		{"split.json", JSON, []string{"split/client.pcap", "split/upstream.pcap"}},
		// The client side only: every cause is inferred.
		{"split-client-only.table", Table, []string{"split/client.pcap"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, f := range tc.files {
				names = append(names, filepath.Join(samples, f))
			}
			got := analyzeFiles(t, tc.format, names...)
			golden := filepath.Join("testdata", "analyze-"+tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test ./report -update rewrites it)\n- want:\n%s\n-  got:\n%s", golden, want, got)
			}
		})
	}
}
