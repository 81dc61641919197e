package httpmatch

import (
	"testing"

	"why502/flows"
)

// A connection seen mid-stream that carried no payload (a kept-alive
// connection closing just after the capture began) reaches Done without
// the analyzer ever having seen it: "fuzz crasher"-style regression, found
// by why502 live on a busy loopback.
func TestDoneUnseenMidstream(t *testing.T) {
	a := NewAnalyzer(AnalyzeOptions{}, func(Incident) {})
	a.Done(&flows.Conn{ID: 7, Handshake: flows.Midstream})
	a.Flush()
}
