package httpmatch_test

import (
	"fmt"
	"net/netip"
	"time"

	"why502/flows"
	"why502/flows/flowtest"
	"why502/httpmatch"
)

// A proxy served one request from its backend, then answered 502 to the
// next one because its connect to a second backend was refused.
func ExampleAnalyzer() {
	t0 := time.Date(2026, 3, 4, 14, 28, 0, 0, time.UTC)
	cli := netip.MustParseAddrPort("10.1.2.3:51234")
	prx := netip.MustParseAddrPort("10.0.0.1:80")
	front := flowtest.New(t0, cli, prx).SYN().SYNACK().ACK(flows.Client)
	front.Data(flows.ClientToServer, "GET /a HTTP/1.1\r\nHost: shop\r\n\r\n")
	up := flowtest.New(t0.Add(time.Millisecond), netip.MustParseAddrPort("10.0.0.1:40312"), netip.MustParseAddrPort("10.0.0.7:8080"))
	up.SYN().SYNACK().ACK(flows.Client).Data(flows.ClientToServer, "GET /a HTTP/1.1\r\nHost: backend\r\n\r\n")
	up.At(time.Millisecond).Data(flows.ServerToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	front.At(3*time.Millisecond).Data(flows.ServerToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	front.At(time.Second).Data(flows.ClientToServer, "GET /b HTTP/1.1\r\nHost: shop\r\n\r\n")
	refused := flowtest.New(front.Now().Add(100*time.Microsecond), netip.MustParseAddrPort("10.0.0.1:40313"), netip.MustParseAddrPort("10.0.0.8:8080"))
	refused.SYN().Refuse()
	front.At(time.Millisecond).Data(flows.ServerToClient, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

	a := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{}, func(in httpmatch.Incident) {
		fmt.Println(in.Status, in.Method, in.URI, "->", in.Upstream, in.Cause)
		fmt.Println(in.Explanation)
	})
	tr := flows.New(flows.Options{WantData: true}, a)
	for _, p := range flowtest.Merge(front, up, refused) {
		tr.Add(&p)
		a.Advance(p.Time)
	}
	tr.Flush()
	a.Flush()
	// Output:
	// 502 GET /b -> 10.0.0.8:8080 connect_refused
	// the connect to 10.0.0.8:8080 was refused (SYN frame 12 answered by RST, frame 13): nothing listens there; nginx: 'connect() failed (111: Connection refused) while connecting to upstream', HAProxy: SC, Caddy: 'dial tcp ...: connect: connection refused'
}
