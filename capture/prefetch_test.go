package capture_test

import (
	"io"
	"os"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

// TestPrefetchSameAsDirect: reading ahead in another goroutine gives the
// very packets, counts and warnings of reading in the caller's, on every
// kind of input: several files merged, gzip-compressed pcapng, a file cut
// in the middle of a record, many batches.
func TestPrefetchSameAsDirect(t *testing.T) {
	file := func(name string) capture.Source {
		b, err := os.ReadFile("../samples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return src(name, b)
	}
	loopback := file("loopback/capture.pcap")
	whole, _ := io.ReadAll(loopback.R)
	many := manyPackets(5000)
	for _, tc := range []struct {
		name string
		srcs func() []capture.Source
	}{
		{"one pcap", func() []capture.Source { return []capture.Source{src("loopback.pcap", whole)} }},
		{"many batches", func() []capture.Source {
			return []capture.Source{src("many.pcap", many)}
		}},
		{"pcapng gzip", func() []capture.Source { return []capture.Source{file("pcapng-gz/capture.pcapng.gz")} }},
		{"two files merged", func() []capture.Source {
			return []capture.Source{file("split/client.pcap"), file("split/upstream.pcap")}
		}},
		{"truncated", func() []capture.Source { return []capture.Source{src("cut.pcap", whole[:len(whole)*2/3])} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := readAll(t, tc.srcs(), capture.Options{})
			got := readAll(t, tc.srcs(), capture.Options{Prefetch: true})
			if len(want.pkts) == 0 || tc.name == "truncated" && len(want.warnings) == 0 {
				t.Fatalf("%d packets, warnings %v: the test input is wrong", len(want.pkts), want.warnings)
			}
			if len(got.pkts) != len(want.pkts) {
				t.Fatalf("prefetch read %d packets, direct %d", len(got.pkts), len(want.pkts))
			}
			for i := range want.pkts {
				if !reflect.DeepEqual(got.pkts[i], want.pkts[i]) {
					t.Fatalf("packet %d differs:\nprefetch %+v\ndirect   %+v", i, got.pkts[i], want.pkts[i])
				}
			}
			if got.stats != want.stats {
				t.Errorf("stats: prefetch %+v, direct %+v", got.stats, want.stats)
			}
			if !reflect.DeepEqual(got.warnings, want.warnings) {
				t.Errorf("warnings: prefetch %v, direct %v", got.warnings, want.warnings)
			}
		})
	}
}

// manyPackets is a pcap of n packets, payloads of 0 to 3600 bytes: more
// than a batch of packets, and batches that end on their bytes.
func manyPackets(n int) []byte {
	var recs []capturetest.Record
	for i := range n {
		sg := seg(capture.TCPFlags(0x18), i%7*600)
		sg.Seq = uint32(1000 + i)
		recs = append(recs, rec(i, capturetest.Frame(layers.LinkTypeEthernet, sg)))
	}
	return capturetest.Pcap(layers.LinkTypeEthernet, recs...)
}

// TestPrefetchCloseEarly: closing before the end stops the reading
// goroutine (no leak), whether it is blocked or reading. The capture
// holds more batches than are in flight, so after one packet the reading
// goroutine waits for a free batch: only Close can end it.
func TestPrefetchCloseEarly(t *testing.T) {
	many := manyPackets(20000)
	before := runtime.NumGoroutine()
	for range 20 {
		r, err := capture.NewReader([]capture.Source{src("many.pcap", many)}, capture.Options{Prefetch: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		r.Close() // twice is harmless
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after closing, %d before: the reading goroutine leaked", n, before)
	}
}
