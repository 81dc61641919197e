package findings

import (
	"time"

	"why502/flows"
)

// Tap is a flows.Handler that hands everything to Next (the Analyzer)
// and also shows every connection to the Collector: the findings need the
// connections that produced no 5xx (the successful connects that end a
// down window, the idle closes that reveal a keep-alive timeout).
type Tap struct {
	Next      flows.Handler
	Collector *Collector
	starter   flows.Starter
	updater   flows.Updater
	// turns are the turns (requests) of each live connection counted so
	// far: the Collector takes the new ones.
	turns map[uint64]int
}

// NewTap returns a Tap forwarding to next (and to its Start, if it has one).
func NewTap(next flows.Handler, c *Collector) *Tap {
	t := &Tap{Next: next, Collector: c, turns: map[uint64]int{}}
	t.starter, _ = next.(flows.Starter)
	t.updater, _ = next.(flows.Updater)
	return t
}

// Start implements flows.Starter.
func (t *Tap) Start(c *flows.Conn) {
	if t.starter != nil {
		t.starter.Start(c)
	}
	t.Collector.start(c)
}

// Update implements flows.Updater: the Collector keeps a copy of what it
// reads of a connect attempt (bound.go), refreshed here.
func (t *Tap) Update(c *flows.Conn) {
	if t.updater != nil {
		t.updater.Update(c)
	}
	t.Collector.update(c)
}

// Data implements flows.Handler.
func (t *Tap) Data(c *flows.Conn, ch flows.Chunk) {
	t.Next.Data(c, ch)
	n := c.Turns - t.turns[c.ID]
	if n > 0 {
		t.turns[c.ID] = c.Turns
	}
	t.Collector.data(c.Server, n, ch.At.Time)
}

// Gap implements flows.Handler.
func (t *Tap) Gap(c *flows.Conn, g flows.Gap) { t.Next.Gap(c, g) }

// Done implements flows.Handler.
func (t *Tap) Done(c *flows.Conn) {
	t.Next.Done(c)
	n := c.Turns - t.turns[c.ID]
	delete(t.turns, c.ID)
	t.Collector.Conn(c, n)
}

// Advance moves the Collector's capture time to t (each packet's time).
func (t *Tap) Advance(tm time.Time) { t.Collector.Advance(tm) }
