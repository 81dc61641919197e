package capture_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"why502/capture"
)

// readCounting reads r to the end, checking after each packet that
// Progress never goes backwards nor past total, and returns the last
// Progress.
func readCounting(t *testing.T, r *capture.Reader) (read, total int64) {
	t.Helper()
	var last int64
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read, total := r.Progress()
		if read < last || total > 0 && read > total {
			t.Fatalf("progress %d of %d after %d", read, total, last)
		}
		last = read
	}
	return r.Progress()
}

func TestProgress(t *testing.T) {
	const sample = "../samples/loopback/capture.pcap"
	raw, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	gzName := filepath.Join(t.TempDir(), "capture.pcap.gz")
	if err := os.WriteFile(gzName, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	size := int64(len(raw))
	gzSize := int64(gz.Len())

	tests := []struct {
		name      string
		names     []string
		stdin     io.Reader
		wantRead  int64
		wantTotal int64
	}{
		{name: "file", names: []string{sample}, wantRead: size, wantTotal: size},
		{name: "gzip counts compressed bytes", names: []string{gzName}, wantRead: gzSize, wantTotal: gzSize},
		{name: "two files", names: []string{sample, gzName}, wantRead: size + gzSize, wantTotal: size + gzSize},
		{name: "stdin has no total", names: []string{"-"}, stdin: bytes.NewReader(raw), wantRead: size},
		{name: "a file and stdin: no total", names: []string{sample, "-"}, stdin: bytes.NewReader(gz.Bytes()), wantRead: size + gzSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := capture.Open(tc.names, capture.Options{Stdin: tc.stdin})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			read, total := readCounting(t, r)
			if read != tc.wantRead || total != tc.wantTotal {
				t.Errorf("Progress\n- want: %d of %d\n-  got: %d of %d", tc.wantRead, tc.wantTotal, read, total)
			}
		})
	}
}

// TestProgressConcurrent calls Progress from another goroutine while the
// packets are read, for the race detector.
func TestProgressConcurrent(t *testing.T) {
	r, err := capture.Open([]string{"../samples/loopback/capture.pcap"}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stop := make(chan struct{})
	done := make(chan int64)
	go func() {
		var seen int64
		for {
			select {
			case <-stop:
				done <- seen
				return
			default:
				seen, _ = r.Progress()
			}
		}
	}()
	read, total := readCounting(t, r)
	close(stop)
	if seen := <-done; seen > read {
		t.Errorf("another goroutine saw %d bytes read, more than the %d read in all", seen, read)
	}
	if read != total {
		t.Errorf("read %d of %d", read, total)
	}
}

func TestProgressNewReader(t *testing.T) {
	raw, err := os.ReadFile("../samples/loopback/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.NewReader([]capture.Source{{Name: "x", R: bytes.NewReader(raw)}}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if read, total := readCounting(t, r); read != 0 || total != 0 {
		t.Errorf("Progress of a NewReader\n- want: 0 of 0\n-  got: %d of %d", read, total)
	}
}
