package capture_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/layers"

	"why502/capture"
	"why502/capture/capturetest"
)

func Example() {
	// A capture with one SYN; real code calls capture.Open with file names.
	syn := capturetest.Frame(layers.LinkTypeEthernet, capturetest.Segment{
		Src: ap("10.0.0.1:40000"), Dst: ap("10.0.0.2:8080"), Seq: 1, Flags: capture.SYN,
	})
	file := capturetest.Pcap(layers.LinkTypeEthernet, capturetest.Record{Time: t0, Data: syn})

	r, err := capture.NewReader([]capture.Source{{Name: "front.pcap", R: bytes.NewReader(file)}}, capture.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		fmt.Printf("%s frame %d %s %v > %v [%v]\n", p.File, p.Frame, p.Time.Format("15:04:05.000000"), p.Src, p.Dst, p.Flags)
	}
	fmt.Printf("%d frames, %d TCP\n", r.Stats().Frames, r.Stats().TCP)
	// Output:
	// front.pcap frame 1 12:00:00.000000 10.0.0.1:40000 > 10.0.0.2:8080 [S]
	// 1 frames, 1 TCP
}
