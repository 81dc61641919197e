package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// analyzeFiles runs the pipeline of "why502 analyze" over real captures.
func analyzeFiles(t *testing.T, f Format, names ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	iw := NewIncidentWriter(&out, f)
	sum := analyzeSummary(t, iw.Incident, names...)
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
