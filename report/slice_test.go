package report

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"why502/capture"
	"why502/findings"
	"why502/httpmatch"
)

// The slice of each incident reads back with capture.Open and holds every
// packet of the incident's connections, and nothing else.
// With tcpdump on PATH, each slice must also read back with `tcpdump -nr`,
// one line per packet written.
func TestSlices(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		tcpdump = "" // each slice's tcpdump check is skipped, with a message
	}
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"split", []string{"split/client.pcap", "split/upstream.pcap"}},
		{"crash", []string{"crash/capture.pcap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, f := range tc.files {
				names = append(names, filepath.Join("../samples", f))
			}
			testSlices(t, names, tcpdump)
		})
	}
}

func testSlices(t *testing.T, names []string, tcpdump string) {
	r, err := capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sl []Slice
	var incs []httpmatch.Incident
	pl := findings.NewPipeline(findings.PipelineOptions{}, func(in httpmatch.Incident) {
		incs = append(incs, in)
		sl = append(sl, IncidentSlice(len(sl)+1, &in))
	})
	want := map[tuple]int64{} // packets per connection in the input
	if err := r.Each(func(p *capture.Packet) {
		want[makeTuple(p.Src, p.Dst)]++
		pl.Add(p)
	}); err != nil {
		t.Fatal(err)
	}
	pl.Flush()
	r.Close()
	fs := pl.Collector.Findings(findings.Coverage{})
	for i := range fs {
		if s, ok := FindingSlice(i+1, &fs[i]); ok {
			sl = append(sl, s)
		}
	}
	if len(incs) == 0 || len(sl) <= len(incs) {
		t.Fatalf("%d incidents, %d slices: nothing to test", len(incs), len(sl))
	}

	r, err = capture.Open(names, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	res, err := WriteSlices(dir, r, sl)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sl {
		t.Run(s.Name, func(t *testing.T) {
			conns := map[tuple]bool{}
			var total int64
			for _, c := range s.Conns {
				k := makeTuple(c[0], c[1])
				if !conns[k] {
					conns[k] = true
					total += want[k]
				}
			}
			sr, err := capture.Open([]string{res[i].Path}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer sr.Close()
			got := map[tuple]int64{}
			var n int64
			for {
				p, err := sr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				got[makeTuple(p.Src, p.Dst)]++
			}
			if n != total || n != res[i].Packets {
				t.Errorf("%d packets read back, %d written; want %d", n, res[i].Packets, total)
			}
			for k := range conns {
				if got[k] != want[k] {
					t.Errorf("connection %v: %d packets, want %d", k, got[k], want[k])
				}
			}
			if len(got) != len(conns) {
				t.Errorf("%d connections in the slice, want %d", len(got), len(conns))
			}
			if tcpdump == "" {
				t.Skip("tcpdump not on PATH: slice not read back with tcpdump -r")
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(tcpdump, "-nr", res[i].Path)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("tcpdump -nr %s: %v\n%s", res[i].Path, err, stderr.Bytes())
			}
			if lines := int64(bytes.Count(stdout.Bytes(), []byte("\n"))); lines != res[i].Packets {
				t.Errorf("tcpdump -nr %s: %d packets, the slice has %d\n%s", res[i].Path, lines, res[i].Packets, stdout.Bytes())
			}
		})
	}
}
