// Command floor measures the decode-only floor for why502's speed: read a
// pcap or pcapng file with pcapgo's ZeroCopyReadPacketData and decode each
// frame down to TCP with gopacket's DecodingLayerParser, and nothing else.
// why502's own throughput is quoted as a ratio to this.
//
// Usage: go run ./bench/floor FILE
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor FILE (pcap or pcapng, not compressed)")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	var src packetSource
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		src, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(br)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}

	var (
		eth   layers.Ethernet
		dot1q layers.Dot1Q
		sll   layers.LinuxSLL
		sll2  layers.LinuxSLL2
		ip4   layers.IPv4
		ip6   layers.IPv6
		tcp   layers.TCP
	)
	var first gopacket.LayerType
	switch src.LinkType() {
	case layers.LinkTypeEthernet:
		first = layers.LayerTypeEthernet
	case layers.LinkTypeLinuxSLL:
		first = layers.LayerTypeLinuxSLL
	case layers.LinkTypeLinuxSLL2:
		first = layers.LayerTypeLinuxSLL2
	default:
		return fmt.Errorf("%s: link type %v not handled by the floor", name, src.LinkType())
	}
	parser := gopacket.NewDecodingLayerParser(first, &eth, &dot1q, &sll, &sll2, &ip4, &ip6, &tcp)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)

	start := time.Now()
	var frames, tcpSegs, payload, bytesRead int64
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: frame %d: %w", name, frames+1, err)
		}
		frames++
		bytesRead += int64(ci.CaptureLength) + 16
		_ = parser.DecodeLayers(data, &decoded)
		for _, lt := range decoded {
			if lt == layers.LayerTypeTCP {
				tcpSegs++
				payload += int64(len(tcp.Payload))
			}
		}
	}
	el := time.Since(start).Seconds()
	fmt.Printf("floor: %d frames, %d TCP, %d payload bytes in %.3f s: %.1f MB/s, %.0f packets/s\n",
		frames, tcpSegs, payload, el, float64(bytesRead)/el/1e6, float64(frames)/el)
	return nil
}
