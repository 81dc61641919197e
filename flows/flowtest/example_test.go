package flowtest_test

import (
	"fmt"
	"net/netip"
	"time"

	"why502/flows"
	"why502/flows/flowtest"
)

func ExampleBuilder() {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := flowtest.New(t0, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.7:8080"))
	b.ISN(0xfffffffe, 7) // the client's stream wraps after one byte
	b.SYN().SYNACK().ACK(flows.Client)
	b.Segment(flows.ClientToServer, 3, "lo")  // arrives before...
	b.Segment(flows.ClientToServer, 0, "hel") // ...the bytes before it
	b.At(2 * time.Second).FIN(flows.Server)
	for _, p := range b.Packets() {
		fmt.Printf("%d %s %s > %s seq %d ack %d len %d\n", p.Frame, p.Flags, p.Src, p.Dst, p.Seq, p.Ack, p.PayloadLen)
	}
	// Output:
	// 1 S 10.0.0.1:40000 > 10.0.0.7:8080 seq 4294967294 ack 0 len 0
	// 2 S. 10.0.0.7:8080 > 10.0.0.1:40000 seq 7 ack 4294967295 len 0
	// 3 . 10.0.0.1:40000 > 10.0.0.7:8080 seq 4294967295 ack 8 len 0
	// 4 P. 10.0.0.1:40000 > 10.0.0.7:8080 seq 2 ack 8 len 2
	// 5 P. 10.0.0.1:40000 > 10.0.0.7:8080 seq 4294967295 ack 8 len 3
	// 6 F. 10.0.0.7:8080 > 10.0.0.1:40000 seq 8 ack 4 len 0
}
