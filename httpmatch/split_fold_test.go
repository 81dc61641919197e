package httpmatch

import (
	"net/netip"
	"testing"
	"time"

	"why502/flows"
)

// TestExchangeRidesOnData: an exchange a Data call finishes rides on that
// call's event (withEx), a second one from the same call (pipelining) and
// one finished after the packet's Advance get events of their own, so
// that Apply takes them in the order the calls came.
func TestExchangeRidesOnData(t *testing.T) {
	var batches []*EventBatch
	f := NewFront(AnalyzeOptions{}, func(b *EventBatch) *EventBatch {
		batches = append(batches, b)
		return NewEventBatch()
	})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &flows.Conn{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.7:80")}
	f.Start(c)
	at := func(i int) flows.FrameRef {
		return flows.FrameRef{Frame: int64(i), Time: t0.Add(time.Duration(i) * time.Millisecond)}
	}
	data := func(i int, d flows.Dir, s string) {
		f.Data(c, flows.Chunk{Dir: d, Data: []byte(s), At: at(i)})
		f.Advance(at(i).Time)
	}
	data(1, flows.ClientToServer, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
	data(2, flows.ServerToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	data(3, flows.ClientToServer, "GET /c HTTP/1.1\r\n\r\n")
	f.Done(c)
	f.Flush()
	var got []string
	for _, b := range batches {
		for _, ev := range b.Events {
			s := map[EventKind]string{EventStart: "start", EventData: "data", EventExchange: "exchange", EventDone: "done", EventAdvance: "advance"}[ev.Kind]
			if ev.withEx {
				s += "+exchange " + b.exs[ev.aux].kept.Request.URI
			} else if ev.Kind == EventExchange {
				s += " " + b.exs[ev.aux].kept.Request.URI
			}
			if ev.advance {
				s += "+advance"
			}
			got = append(got, s)
		}
	}
	want := []string{
		"start",
		"data+advance",
		"data+exchange /a",
		"exchange /b+advance",
		"data+advance",
		"done",
		"exchange /c",
	}
	if len(got) != len(want) {
		t.Fatalf("events:\n- want: %q\n-  got: %q", want, got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events:\n- want: %q\n-  got: %q", want, got)
		}
	}
}
