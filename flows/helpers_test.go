package flows_test

import (
	"net/netip"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

var (
	t0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	client = netip.MustParseAddrPort("10.0.0.1:40000")
	server = netip.MustParseAddrPort("10.0.0.7:8080")
)

const (
	c2s = flows.ClientToServer
	s2c = flows.ServerToClient
)

// recorder is a Handler that keeps everything it is given.
type recorder struct {
	data   [2][]byte
	chunks []flows.Chunk
	gaps   []flows.Gap
	done   []*flows.Conn
}

func (r *recorder) Data(c *flows.Conn, ch flows.Chunk) {
	r.data[ch.Dir] = append(r.data[ch.Dir], ch.Data...)
	ch.Data = append([]byte(nil), ch.Data...)
	r.chunks = append(r.chunks, ch)
}
func (r *recorder) Gap(c *flows.Conn, g flows.Gap) { r.gaps = append(r.gaps, g) }
func (r *recorder) Done(c *flows.Conn)             { r.done = append(r.done, c) }

// run feeds pkts to a new Tracker, flushes it and returns what it reported.
func run(opts flows.Options, pkts []capture.Packet) (*recorder, flows.Stats) {
	r := &recorder{}
	t := flows.New(opts, r)
	flowtest.Feed(t, pkts)
	t.Flush()
	return r, t.Stats()
}

// one runs pkts and returns the single connection they make.
func one(opts flows.Options, pkts []capture.Packet) (*flows.Conn, *recorder) {
	r, _ := run(opts, pkts)
	if len(r.done) != 1 {
		panic("want one connection")
	}
	return r.done[0], r
}

func newConn() *flowtest.Builder { return flowtest.New(t0, client, server) }

// established is a connection after its handshake.
func established() *flowtest.Builder {
	return newConn().SYN().At(time.Millisecond).SYNACK().At(time.Millisecond).ACK(flows.Client)
}

func addr(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
