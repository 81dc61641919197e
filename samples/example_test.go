package samples_test

import (
	"fmt"

	"why502/samples"
)

func ExampleParseErrorLine() {
	e, err := samples.ParseErrorLine(`2026/11/26 12:16:44 [error] 6419#6419: *1 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /slow HTTP/1.1", upstream: "http://127.0.0.1:18081/slow", host: "127.0.0.1:18080"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Kind, e.UpstreamAddr, e.Request)
	// Output: prematurely_closed 127.0.0.1:18081 GET /slow HTTP/1.1
}

func ExampleParseAccessLine() {
	a, err := samples.ParseAccessLine(`1795695407.143 127.0.0.1:36228 8 5 "GET /exit HTTP/1.1" 502 157 "127.0.0.1:18081, 127.0.0.1:18081" "502, 502" "0.000, -" "0.001, 0.000" 0.001`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range a.Tries {
		fmt.Println(t.Addr, t.Status, t.Connected)
	}
	// Output:
	// 127.0.0.1:18081 502 true
	// 127.0.0.1:18081 502 false
}
