package flows_test

import (
	"fmt"
	"time"

	"why502/flows"
	"why502/flows/flowtest"
)

type printDone struct{}

func (printDone) Data(*flows.Conn, flows.Chunk) {}
func (printDone) Gap(*flows.Conn, flows.Gap)    {}
func (printDone) Done(c *flows.Conn) {
	fmt.Printf("%s -> %s %s: %s\n", c.Client, c.Server, c.State(), c.Summary())
}

func Example() {
	// A backend that closes while the proxy waits for its response.
	b := flowtest.New(t0, client, server)
	b.SYN().At(time.Millisecond).SYNACK().ACK(flows.Client)
	b.Data(flows.ClientToServer, "POST /orders HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
	b.At(2 * time.Second).FIN(flows.Server).ACK(flows.Client)

	t := flows.New(flows.Options{}, printDone{})
	flowtest.Feed(t, b.Packets())
	t.Flush()
	// Output:
	// 10.0.0.1:40000 -> 10.0.0.7:8080 S3: server sent FIN 2.00 s after the request, before any response
}
