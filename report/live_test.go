package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
)

// TestLiveGolden: the streaming table and the summary a live run prints,
// on the loopback sample (as if captured live on lo).
func TestLiveGolden(t *testing.T) {
	r, err := capture.Open([]string{"../samples/loopback/capture.pcap"}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	lw := NewLiveWriter(&out, Table)
	an := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{}, func(in httpmatch.Incident) {
		if err := lw.Incident(in); err != nil {
			t.Fatal(err)
		}
	})
	tr := flows.New(flows.Options{WantData: true}, an)
	if err := r.Each(func(p *capture.Packet) {
		tr.Add(p)
		an.Advance(p.Time)
	}); err != nil {
		t.Fatal(err)
	}
	tr.Flush()
	an.Flush()
	sum := LiveSummary{
		AnalyzeSummary: AnalyzeSummary{Files: []string{"lo"}, Capture: r.Stats(), Flows: tr.Stats(), Analyze: an.Stats()},
		Duration:       61500 * time.Millisecond,
		Interfaces:     []capture.InterfaceStats{{Name: "lo", Packets: 206, Drops: 3, QueueFreezes: 1}},
	}
	if err := lw.Close(sum); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "live-loopback.table.golden")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./report -update creates it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("output differs from %s (go test ./report -update rewrites it)\n- want:\n%s\n-  got:\n%s", path, want, out.String())
	}
}

func TestStatusLine(t *testing.T) {
	st := LiveStatus{Elapsed: 3723 * time.Second, Packets: 1234567, Mbps: 12.345, Conns: 1042, Responses5xx: 17, Drops: 0}
	const want = "live 1:02:03 | 1,234,567 packets | 12.3 Mbit/s | 1,042 conns | 17 5xx | 0 dropped"
	if got := FormatLiveStatus(st); got != want {
		t.Errorf("- want: %q\n-  got: %q", want, got)
	}
	var b bytes.Buffer
	s := NewStatusLine(&b, 40)
	s.Clear() // nothing shown: nothing written
	s.Show(st)
	s.Clear()
	got := b.String()
	if wantOut := clearLine + want[:39] + clearLine; got != wantOut {
		t.Errorf("- want: %q\n-  got: %q", wantOut, got)
	}
	if strings.Contains(got, "\n") {
		t.Error("a status line must never end a line")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d)\n- want: %s\n-  got: %s", n, want, got)
		}
	}
}
