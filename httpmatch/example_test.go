package httpmatch_test

import (
	"fmt"
	"time"

	"why502/flows"
	"why502/httpmatch"
)

// A backend answers one request on a keep-alive connection, then closes
// the connection on the next one without answering it.
func ExampleConnParser() {
	at := func(frame int64) flows.FrameRef {
		return flows.FrameRef{File: "upstream.pcap", Frame: frame, Time: time.Unix(1700000000, 0)}
	}
	p := httpmatch.NewConnParser(httpmatch.ParserOptions{}, httpmatch.SinkFunc(func(e *httpmatch.Exchange) {
		fmt.Println(e)
	}))
	p.Data(flows.ClientToServer, []byte("GET /health HTTP/1.1\r\nHost: app\r\n\r\n"), at(4))
	p.Data(flows.ServerToClient, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), at(6))
	p.Data(flows.ClientToServer, []byte("POST /orders HTTP/1.1\r\nHost: app\r\nContent-Length: 2\r\n\r\n{}"), at(9))
	p.Close(at(10))
	// Output:
	// #0 GET /health -> 200 OK, length body 2 bytes
	// #1 POST /orders -> (no response)
}
