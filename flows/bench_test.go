package flows_test

import (
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

// benchPackets is a capture of many short keep-alive connections, a few at
// a time interleaved, each with three request/response turns: the shape of
// proxy-to-backend traffic.
func benchPackets(conns int) (pkts []capture.Packet, payload int64) {
	const concurrent = 16
	reqs := "GET /api/items?page=2 HTTP/1.1\r\nHost: backend\r\nUser-Agent: bench\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 420\r\n\r\n" + string(make([]byte, 420))
	for base := 0; base < conns; base += concurrent {
		var bs []*flowtest.Builder
		for i := base; i < min(base+concurrent, conns); i++ {
			cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 16), byte(i >> 8)}), uint16(30000+i%30000))
			start := t0.Add(time.Duration(i) * time.Millisecond)
			b := flowtest.New(start, cl, server).ISN(uint32(i)*2654435761, uint32(i)*40503)
			b.SYN().At(100 * time.Microsecond).SYNACK().At(50 * time.Microsecond).ACK(flows.Client)
			for range 3 {
				b.At(time.Millisecond).Data(flows.ClientToServer, reqs)
				b.At(2*time.Millisecond).Data(flows.ServerToClient, resp).ACK(flows.Client)
				payload += int64(len(reqs) + len(resp))
			}
			b.At(time.Second).FIN(flows.Server).FIN(flows.Client).ACK(flows.Server)
			bs = append(bs, b)
		}
		pkts = append(pkts, flowtest.Merge(bs...)...)
	}
	return pkts, payload
}

type nopHandler struct{ n int }

func (h *nopHandler) Data(c *flows.Conn, ch flows.Chunk) { h.n += len(ch.Data) }
func (h *nopHandler) Gap(c *flows.Conn, g flows.Gap)     {}
func (h *nopHandler) Done(c *flows.Conn)                 { h.n++ }

// BenchmarkFlows runs the whole capture once per op; MB/s is payload
// bytes. allocs/op divided by the connection count (1000) is the cost per
// connection: the per-packet path allocates nothing.
func BenchmarkFlows(b *testing.B) {
	pkts, payload := benchPackets(1000)
	for _, want := range []bool{false, true} {
		name := "nodata"
		if want {
			name = "data"
		}
		b.Run(name, func(b *testing.B) {
			benchTracker(b, flows.Options{WantData: want}, pkts, payload)
		})
	}
}

// BenchmarkFlowsCapture runs the tracker alone (WantData, a handler that
// does nothing) on the capture WHY502_BENCH_FILE names, read into memory
// once so that decoding is not measured; MB/s is payload bytes.
func BenchmarkFlowsCapture(b *testing.B) {
	file := os.Getenv("WHY502_BENCH_FILE")
	if file == "" {
		b.Skip("WHY502_BENCH_FILE names no capture")
	}
	pkts, payload := readCapture(b, file)
	// The packets are most of the heap: a collection under way after
	// reading them would be measured with the tracker.
	runtime.GC()
	benchTracker(b, flows.Options{WantData: true}, pkts, payload)
}

// benchTracker feeds pkts to a new Tracker once per op, then flushes it.
func benchTracker(b *testing.B, opts flows.Options, pkts []capture.Packet, payload int64) {
	b.SetBytes(payload)
	b.ReportAllocs()
	for b.Loop() {
		t := flows.New(opts, &nopHandler{})
		for i := range pkts {
			t.Add(&pkts[i])
		}
		t.Flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
}

// readCapture reads every packet of file, their payloads copied into one
// slab (the reader reuses its buffer).
func readCapture(b *testing.B, file string) ([]capture.Packet, int64) {
	r, err := capture.Open([]string{file}, capture.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var pkts []capture.Packet
	var slab []byte
	if err := r.Each(func(p *capture.Packet) {
		pkts = append(pkts, *p)
		slab = append(slab, p.Payload...)
	}); err != nil {
		b.Fatal(err)
	}
	var off int64
	for i := range pkts {
		n := int64(len(pkts[i].Payload))
		pkts[i].Payload = slab[off : off+n : off+n]
		off += n
	}
	return pkts, off
}

// The per-packet path on an established connection must not allocate.
func TestNoAllocPerPacket(t *testing.T) {
	b := established()
	for range 100 {
		b.Data(c2s, "GET / HTTP/1.1\r\n\r\n").Data(s2c, "HTTP/1.1 200 OK\r\n\r\n").ACK(flows.Client)
	}
	pkts := b.Packets()
	for _, want := range []bool{false, true} {
		tr := flows.New(flows.Options{WantData: want}, &nopHandler{})
		// AllocsPerRun calls f once to warm up, then once measured: the
		// first call takes the handshake and half the exchanges (map and
		// connection allocation), the measured one the other half.
		half := len(pkts) / 2
		chunks := [][]capture.Packet{pkts[:half], pkts[half:]}
		allocs := testing.AllocsPerRun(1, func() {
			for i := range chunks[0] {
				tr.Add(&chunks[0][i])
			}
			chunks = chunks[1:]
		})
		if allocs != 0 {
			t.Errorf("WantData %v:\n- want: 0 allocations\n-  got: %v", want, allocs)
		}
	}
}
