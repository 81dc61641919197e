package flows

import (
	"time"

	"why502/capture"
)

// packet applies one packet, sent in direction d, to its connection:
// handshake, acknowledgement, payload, close. The order matters: the ACK a
// closing packet carries counts toward Teardown.PeerUnacked, and its
// payload toward SinceOwnData. ns is p.Time in nanoseconds (clock.go).
func (t *Tracker) packet(c *conn, p *capture.Packet, d Dir, ns int64) {
	at := frameRef(p)
	if t.after(p.Time, ns, c.Last, c.lastNs) {
		c.Last, c.lastNs = p.Time, ns
	}
	c.lastFrame = at
	c.Packets[d]++
	h := &c.half[d]
	f := p.Flags

	dataSeq := p.Seq
	if f.Has(capture.SYN) {
		dataSeq++ // the SYN takes one sequence number; data (TFO) follows it
		t.handshake(c, d, p, at)
	}
	if c.Handshake == Unanswered && f&(capture.SYN|capture.RST|capture.FIN|capture.ACK) == capture.ACK {
		// An ACK (or data) that is not part of a SYN, FIN or RST means the
		// SYN was answered: the SYN-ACK is missing from the capture, not
		// from the wire. Calling this Unanswered would blame a connect
		// timeout. (A lone FIN after a SYN stays Zeek's SH.)
		c.Handshake = Established
	}
	if !h.started {
		// Mid-stream, the first sequence number seen is offset 0.
		h.start(dataSeq)
	}
	if f.Has(capture.ACK) {
		t.acked(c, 1-d, p)
	}
	// Payload on a RST is a diagnostic some stacks add, not stream data.
	if p.PayloadLen > 0 && !f.Has(capture.RST) {
		c.LastData[d] = p.Time
		var idle time.Duration
		if c.newSeen {
			idle = time.Duration(ns - c.newAtNs)
			if t.wide {
				idle = p.Time.Sub(c.newAt)
			}
		}
		if t.segment(c, d, h.offset(dataSeq), p, idle) {
			t.turn(c, d, idle)
			c.newAt, c.newAtNs = p.Time, ns
		}
	}
	switch {
	case f.Has(capture.RST):
		if d == ServerToClient && c.Handshake == Unanswered {
			c.Handshake = Refused
			c.SYNACK = at
			c.RTT = p.Time.Sub(c.lastSYN)
		}
		// Nothing more will be accepted in this direction: holes are final.
		// The RST's sequence number is the sender's next byte, so bytes up
		// to it were sent even if never captured.
		end := h.hi
		if off := h.offset(p.Seq); off > end && off-end <= maxAckAhead && !h.fin {
			end = off
			h.hi = off
		}
		t.skipTo(c, d, end, at)
		h.rst = true
		t.close(c, d, CloseRST, at)
	case f.Has(capture.FIN):
		if !h.fin {
			// A FIN does not end waiting for a hole before it: the FIN may
			// have overtaken the last data segment. The peer's ACK of the
			// FIN, a RST or the end of the connection settles the hole.
			h.fin = true
			h.finOff = h.offset(dataSeq + uint32(p.PayloadLen))
			if h.finOff > h.hi {
				h.hi = h.finOff
			}
		}
		t.close(c, d, CloseFIN, at)
	}
	// Kept current so that a Handler looking at c during Data or Gap sees it.
	c.Bytes = [2]int64{max(c.half[0].hi, 0), max(c.half[1].hi, 0)}
}

// handshake handles a packet with SYN set from direction d.
func (t *Tracker) handshake(c *conn, d Dir, p *capture.Packet, at FrameRef) {
	switch {
	case d == ClientToServer && !p.Flags.Has(capture.ACK):
		if !c.synSeen {
			c.synSeen = true
			c.isn = p.Seq
			c.firstSYN = p.Time
		}
		c.SYNs++
		c.lastSYN = p.Time
		c.SYNSpan = p.Time.Sub(c.firstSYN)
	case d == ServerToClient && p.Flags.Has(capture.ACK) && c.SYNACK.Frame == 0:
		c.SYNACK = at
		if c.Handshake == Unanswered {
			c.Handshake = Established
			c.RTT = p.Time.Sub(c.lastSYN)
		}
	}
}

// turn counts a client turn: new client bytes after new server bytes (or
// first of all). The idle time before a turn other than the first is how
// long a kept-alive connection sat unused before being reused.
func (t *Tracker) turn(c *conn, d Dir, idle time.Duration) {
	if d == ClientToServer && (!c.newSeen || c.newDir == ServerToClient) {
		c.Turns++
		if c.Turns > 1 {
			c.LastIdle = idle
			c.MaxIdle = max(c.MaxIdle, idle)
		}
	}
	c.newSeen, c.newDir = true, d
}

// close records a FIN or RST from direction d.
func (t *Tracker) close(c *conn, d Dir, kind CloseKind, at FrameRef) {
	first := c.Closed[d] == CloseNone
	if kind > c.Closed[d] {
		c.Closed[d] = kind // a RST after a FIN overrides it
	}
	if !first {
		return
	}
	side := Client
	if d == ServerToClient {
		side = Server
	}
	td := &c.Teardown
	if td.Kind != CloseNone {
		if td.By != side && td.PeerKind == CloseNone {
			td.PeerKind, td.PeerAt = kind, at
		}
		return
	}
	own, peer := c.LastData[d], c.LastData[1-d]
	*td = Teardown{By: side, Kind: kind, At: at}
	if !own.IsZero() {
		td.HasOwnData = true
		td.SinceOwnData = at.Time.Sub(own)
	}
	if !peer.IsZero() {
		td.HasPeerData = true
		td.SincePeerData = at.Time.Sub(peer)
	}
	if ph := &c.half[1-d]; ph.started {
		td.PeerUnacked = max(0, ph.hi-ph.acked)
	}
	td.PeerUnanswered = !peer.IsZero() && (own.IsZero() || peer.After(own))
}
