package capture_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

// TestOneInputToTheEnd: a single input (read without the merge) gives its
// segments in order, then io.EOF at every later call, read ahead or not;
// an empty one gives io.EOF at once.
func TestOneInputToTheEnd(t *testing.T) {
	var recs []capturetest.Record
	for i := range 3 {
		seg := capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{
			Src: ap("10.0.0.1:40000"), Dst: ap("10.0.0.2:8080"), Seq: uint32(i), Flags: capture.ACK,
		})
		recs = append(recs, capturetest.Record{Time: t0, Data: seg})
	}
	for _, tc := range []struct {
		name     string
		recs     []capturetest.Record
		prefetch bool
	}{
		{"three", recs, false},
		{"three, read ahead", recs, true},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := capturetest.Pcap(layers.LinkTypeEthernet, tc.recs...)
			r, err := capture.NewReader([]capture.Source{{Name: "a.pcap", R: bytes.NewReader(file)}}, capture.Options{Prefetch: tc.prefetch})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for i := range tc.recs {
				p, err := r.Next()
				if err != nil || p.Seq != uint32(i) || p.Frame != int64(i+1) {
					t.Fatalf("packet %d: got %+v, %v", i, p, err)
				}
			}
			for range 3 {
				if _, err := r.Next(); !errors.Is(err, io.EOF) {
					t.Fatalf("after the end: want io.EOF, got %v", err)
				}
			}
		})
	}
}

// TestFirstLast: Stats.First and Last are the earliest and latest frame
// times, whatever their order in the file (compared in nanoseconds), the
// Unix epoch itself included.
func TestFirstLast(t *testing.T) {
	late := t0.Add(2 * time.Second)
	tests := []struct {
		name        string
		times       []time.Time
		first, last time.Time
	}{
		{"in order", []time.Time{t0, t0.Add(1), late}, t0, late},
		{"out of order", []time.Time{late, t0, t0.Add(time.Second)}, t0, late},
		{"equal", []time.Time{t0, t0, t0}, t0, t0},
		{"1970", []time.Time{late, time.Unix(0, 0), late.Add(-1)}, time.Unix(0, 0), late},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []capturetest.Record
			for _, tm := range tc.times {
				seg := capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{
					Src: ap("10.0.0.1:40000"), Dst: ap("10.0.0.2:8080"), Flags: capture.ACK,
				})
				recs = append(recs, capturetest.Record{Time: tm, Data: seg})
			}
			r, err := capture.NewReader([]capture.Source{{Name: "a.pcap", R: bytes.NewReader(capturetest.Pcap(layers.LinkTypeEthernet, recs...))}}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for {
				if _, err := r.Next(); err != nil {
					break
				}
			}
			if st := r.Stats(); !st.First.Equal(tc.first) || !st.Last.Equal(tc.last) {
				t.Errorf("first %v, last %v; want %v, %v", st.First, st.Last, tc.first, tc.last)
			}
		})
	}
}
