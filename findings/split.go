package findings

import (
	"time"

	"why502/flows"
	"why502/httpmatch"
)

// Split is Tap's two-goroutine form: the tracker's handler is an
// httpmatch.Front, which parses HTTP in the caller's goroutine, and the
// Analyzer and the Collector run in a goroutine of their own on the
// Front's events. Incidents (the Analyzer's sink) are then produced in
// that goroutine. They are the same, in the same order, as with Tap:
// the events replay the tracker's calls in order (httpmatch.Event).
type Split struct {
	front      *httpmatch.Front
	an         *httpmatch.Analyzer
	col        *Collector
	full, free chan *httpmatch.EventBatch
	done       chan struct{}
	waited     bool
}

// splitBatches is how many event batches exist: one being filled, the
// rest queued or being applied.
const splitBatches = 4

// NewSplit starts the goroutine that applies events to an and c. opts
// must be an's. Call Wait once the tracker is flushed.
func NewSplit(an *httpmatch.Analyzer, c *Collector, opts httpmatch.AnalyzeOptions) *Split {
	s := &Split{
		an: an, col: c,
		full: make(chan *httpmatch.EventBatch, splitBatches),
		free: make(chan *httpmatch.EventBatch, splitBatches),
		done: make(chan struct{}),
	}
	for range splitBatches - 1 {
		s.free <- httpmatch.NewEventBatch()
	}
	s.front = httpmatch.NewFront(opts, s.send)
	go s.run()
	return s
}

// Handler is the tracker's handler.
func (s *Split) Handler() flows.Handler { return s.front }

// Advance moves capture time to t (each packet's time), as Analyzer.Advance
// and Tap.Advance do.
func (s *Split) Advance(t time.Time) { s.front.Advance(t) }

// Wait hands on the last events and waits until they are applied. The
// Analyzer and the Collector are the caller's again afterwards (Flush,
// Findings).
func (s *Split) Wait() {
	if s.waited {
		return
	}
	s.waited = true
	s.front.Flush()
	close(s.full)
	<-s.done
}

func (s *Split) send(b *httpmatch.EventBatch) *httpmatch.EventBatch {
	s.full <- b
	return <-s.free
}

func (s *Split) run() {
	defer close(s.done)
	for b := range s.full {
		for i := range b.Events {
			s.apply(b, &b.Events[i])
		}
		b.Reset()
		s.free <- b
	}
}

// apply is Tap's calls, in Tap's order, for one event.
func (s *Split) apply(b *httpmatch.EventBatch, ev *httpmatch.Event) {
	s.an.Apply(b, ev)
	switch ev.Kind {
	case httpmatch.EventStart:
		s.col.start(ev.Conn)
	case httpmatch.EventUpdate:
		s.col.update(ev.Conn)
	case httpmatch.EventData:
		if ev.NewTurns > 0 {
			s.col.countRequests(ev.Server, int(ev.NewTurns), ev.At)
		}
		// A Data event nearly always advances, to its own time: Advance
		// below moves the clock then (countRequests does not read it).
		if _, adv := ev.Advances(); !adv {
			s.col.clock(ev.At)
		}
	case httpmatch.EventDone:
		s.col.Conn(ev.Conn, int(ev.NewTurns))
	}
	if t, ok := ev.Advances(); ok {
		s.an.Advance(t)
		s.col.Advance(t)
	}
}
