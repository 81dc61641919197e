package capture_test

import (
	"bytes"
	"errors"
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

// readFiles reads every packet of names, copying each (Next's packet is
// valid until the next call), and returns them with the final counts.
func readFiles(t *testing.T, names []string, opts capture.Options) ([]capture.Packet, capture.Stats, []capture.Warning, error) {
	t.Helper()
	r, err := capture.Open(names, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []capture.Packet
	for {
		p, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, r.Stats(), r.Warnings(), err
		}
		c := *p
		c.Payload = bytes.Clone(p.Payload)
		out = append(out, c)
	}
}

// TestPrefetchSameAsDirect: reading ahead in another goroutine gives the
// very packets, counts and warnings of reading in the caller's, on every
// kind of input: several files merged, gzip-compressed pcapng, a file cut
// in the middle of a record.
func TestPrefetchSameAsDirect(t *testing.T) {
	cut, err := os.ReadFile("../samples/loopback/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	truncated := t.TempDir() + "/cut.pcap"
	if err := os.WriteFile(truncated, cut[:len(cut)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	split := "../samples/split/"
	// Many batches, some with large payloads (a batch also ends on bytes).
	var recs []capturetest.Record
	for i := range 5000 {
		sg := seg(capture.TCPFlags(0x18), i%7*300)
		sg.Seq = uint32(1000 + i)
		recs = append(recs, rec(i, capturetest.Frame(layers.LinkTypeEthernet, sg)))
	}
	many := t.TempDir() + "/many.pcap"
	if err := os.WriteFile(many, capturetest.Pcap(layers.LinkTypeEthernet, recs...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"one pcap", []string{"../samples/loopback/capture.pcap"}},
		{"many batches", []string{many}},
		{"pcapng gzip", []string{"../samples/pcapng-gz/capture.pcapng.gz"}},
		{"two files merged", []string{split + "client.pcap", split + "upstream.pcap"}},
		{"truncated", []string{truncated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantStats, wantWarn, wantErr := readFiles(t, tc.files, capture.Options{})
			got, gotStats, gotWarn, gotErr := readFiles(t, tc.files, capture.Options{Prefetch: true})
			if len(want) == 0 {
				t.Fatal("no packets read: the test input is wrong")
			}
			if len(got) != len(want) {
				t.Fatalf("prefetch read %d packets, direct %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("packet %d differs:\nprefetch %+v\ndirect   %+v", i, got[i], want[i])
				}
			}
			if gotStats != wantStats {
				t.Errorf("stats: prefetch %+v, direct %+v", gotStats, wantStats)
			}
			if !reflect.DeepEqual(gotWarn, wantWarn) || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("warnings/error: prefetch %v %v, direct %v %v", gotWarn, gotErr, wantWarn, wantErr)
			}
		})
	}
}

// TestPrefetchCloseEarly: closing before the end stops the reading
// goroutine (no leak), whether it is blocked or reading.
func TestPrefetchCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 20 {
		r, err := capture.Open([]string{"../samples/crash/capture.pcap"}, capture.Options{Prefetch: true})
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
