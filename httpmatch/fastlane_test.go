package httpmatch

import (
	"path/filepath"
	"reflect"
	"testing"

	"why502/capture"
	"why502/flows"
)

// The fast lane must decide what the full correlation decides: every
// sample, real traffic through real proxies (retries, resets, refused
// connects, races), gives the same incidents and counts with it as
// without it, and it does decide some of their requests.
func TestFastLaneSameAsFullPath(t *testing.T) {
	files, err := filepath.Glob("../samples/*/capture.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample captures (%v)", err)
	}
	sets := [][]string{{"../samples/split/client.pcap", "../samples/split/upstream.pcap"}}
	for _, f := range files {
		sets = append(sets, []string{f})
	}
	for _, names := range sets {
		name := filepath.Base(filepath.Dir(names[0]))
		t.Run(name, func(t *testing.T) {
			full, _, _ := analyzeFiles(t, names, true)
			fast, stats, n := analyzeFiles(t, names, false)
			if !reflect.DeepEqual(full, fast) {
				t.Errorf("- want: the full path's %d incidents\n-  got: %d differing with the fast lane", len(full), len(fast))
			}
			// Each sample has requests answered OK far from any failure.
			if ok := stats.Requests - stats.Responses5xx - stats.HiddenFailures; n == 0 || n > ok {
				t.Errorf("- want: the fast lane deciding some of the %d requests answered OK\n-  got: %d", ok, n)
			}
		})
	}
}

// analyzeFiles runs capture files through a tracker and an Analyzer,
// with or without the fast lane, and returns its incidents, stats and how
// many requests the fast lane decided.
func analyzeFiles(t *testing.T, names []string, noFast bool) ([]Incident, AnalyzeStats, int64) {
	t.Helper()
	r, err := capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []Incident
	a := NewAnalyzer(AnalyzeOptions{}, func(in Incident) { got = append(got, in) })
	a.noFastLane = noFast
	tr := flows.New(flows.Options{WantData: true}, a)
	if err := r.Each(func(p *capture.Packet) {
		tr.Add(p)
		a.Advance(p.Time)
	}); err != nil {
		t.Fatal(err)
	}
	tr.Flush()
	a.Flush()
	return got, a.Stats(), a.fastDecided
}
