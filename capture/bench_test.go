package capture_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

// benchCapture is a pcap of n Ethernet frames: handshakes, requests,
// full-size segments and ACKs, IPv4 and IPv6.
func benchCapture(n int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{0, 0, 0, 120, 600, 1448, 1448}
	recs := make([]capturetest.Record, n)
	for i := range recs {
		s := seg(capture.ACK, sizes[rng.IntN(len(sizes))])
		if i%4 == 0 {
			s = seg6(capture.ACK|capture.PSH, len(s.Payload))
		}
		s.Seq = uint32(i)
		recs[i] = capturetest.Record{Time: t0.Add(time.Duration(i) * time.Microsecond), Data: capturetest.Frame(layers.LinkTypeEthernet, s)}
	}
	return capturetest.Pcap(layers.LinkTypeEthernet, recs...)
}

// BenchmarkRead reads a capture in the caller's goroutine ("direct") and
// read ahead in another ("prefetch", as flows and analyze do).
func BenchmarkRead(b *testing.B) {
	const packets = 20000
	file := benchCapture(packets)
	for _, prefetch := range []bool{false, true} {
		name := "direct"
		if prefetch {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := capture.NewReader([]capture.Source{{Name: "bench", R: bytes.NewReader(file)}}, capture.Options{Prefetch: prefetch})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					_, err := r.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					n++
				}
				r.Close()
				if n != packets {
					b.Fatalf("read %d packets, want %d", n, packets)
				}
			}
		})
	}
}

// TestReadAllocations checks that reading does not allocate per packet,
// read ahead or not: a file of 20000 packets costs no more allocations
// than one of 200.
func TestReadAllocations(t *testing.T) {
	for _, prefetch := range []bool{false, true} {
		allocs := func(file []byte) float64 {
			return testing.AllocsPerRun(5, func() {
				r, err := capture.NewReader([]capture.Source{{Name: "a", R: bytes.NewReader(file)}}, capture.Options{Prefetch: prefetch})
				if err != nil {
					t.Fatal(err)
				}
				for {
					if _, err := r.Next(); err != nil {
						break
					}
				}
				r.Close()
			})
		}
		small, large := allocs(benchCapture(200)), allocs(benchCapture(20000))
		if large > small+2 {
			t.Errorf("prefetch %v: allocations per file:\n- want: about %v for 20000 packets, as for 200\n-  got: %v", prefetch, small, large)
		}
	}
}
