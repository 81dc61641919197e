package findings

import (
	"container/heap"
	"net/netip"

	"why502/flows"
)

// Under a SYN flood every SYN is a connect attempt with an outcome to
// take (issue 8): the attempts waiting for their ConnectTimeout (due) and
// the outcomes waiting in the reorder buffer (events) are bounded by
// count as well as by time, so that memory does not follow the rate of
// SYNs.

// maxServers bounds the distinct servers (ip:port) the Collector keeps
// statistics and a timeline for, as many as flows keeps connections: a
// scan of many addresses would otherwise make one of each per address.
// Servers past it are left out of the findings, and the capture_coverage
// finding says how many connections that concerned.
const maxServers = 1 << 16

// maxReorder bounds the reorder buffer: beyond it the oldest outcome is
// used at once, before its Options.Reorder delay. As many as flows keeps
// connections: at rates above maxReorder per Reorder (16k connects per
// second) an outcome learned late may be taken out of SYN order.
const maxReorder = 1 << 16

// boundEvents uses the oldest outcomes beyond maxReorder.
func (c *Collector) boundEvents() {
	for len(c.events) > maxReorder {
		c.use(heap.Pop(&c.events).(*event))
	}
}

// boundDue drops from due the attempts no longer pending (done before
// their ConnectTimeout), once they outnumber the pending ones: due then
// holds at most about twice the connections the tracker keeps.
func (c *Collector) boundDue() {
	if len(c.due) <= 2*len(c.pending)+1024 {
		return
	}
	out := c.due[:0]
	for _, d := range c.due {
		if c.pending[d.id] != nil {
			out = append(out, d)
		}
	}
	clear(c.due[len(out):])
	c.due = out
	heap.Init(&c.due)
}

// attempt is what the Collector keeps of a connect attempt until its
// outcome is taken: what push reads. With Split the connections are
// copies, not the tracker's own, and a whole flows.Conn per SYN of a
// flood would be most of the Collector's memory; with Tap too, the copy
// is refreshed by update (flows.Updater) rather than read in place.
type attempt struct {
	id             uint64
	client, server netip.AddrPort
	first, synack  flows.FrameRef
	handshake      flows.Handshake
}

func attemptOf(fc *flows.Conn) attempt {
	return attempt{id: fc.ID, client: fc.Client, server: fc.Server, first: fc.First, synack: fc.SYNACK, handshake: fc.Handshake}
}

// update refreshes a pending attempt's handshake (flows.Updater).
func (c *Collector) update(fc *flows.Conn) {
	if p := c.pending[fc.ID]; p != nil {
		p.handshake, p.synack = fc.Handshake, fc.SYNACK
	}
}
