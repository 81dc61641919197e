package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"why502/capture"
	"why502/report"
)

// Timing of the progress line of flows and analyze.
const (
	progressEvery = 250 * time.Millisecond
	// progressDelay is how long a run goes before the line is first
	// drawn: a run shorter than that leaves no flicker on the terminal.
	progressDelay = 500 * time.Millisecond
	// progressPackets is how many packets pump hands on between two
	// updates of the count the line reads: an atomic store per packet
	// would slow the loop down for nothing.
	progressPackets = 4096
)

// progressSource is what the line asks for the bytes read: a capture.Reader.
type progressSource interface {
	Progress() (read, total int64)
}

// progressLine draws the progress of a run on standard error, from its own
// goroutine, until finish. That goroutine reads only atomics: the reader's
// byte count, and the packet count pump stores every progressPackets.
// A nil *progressLine draws nothing, so the commands need not ask.
type progressLine struct {
	src     progressSource
	packets atomic.Int64
	start   time.Time

	mu   sync.Mutex // the line: the goroutine draws it, writes to standard output erase it
	line *report.StatusLine

	ticker *time.Ticker
	stop   chan struct{}
	done   chan struct{}
}

// startProgress starts the progress line of reading r when stderr is a
// terminal and quiet is not set; otherwise it returns nil.
func startProgress(r progressSource, stderr io.Writer, quiet bool) *progressLine {
	if quiet {
		return nil
	}
	width, ok := terminalWidth(stderr)
	if !ok {
		return nil
	}
	p := newProgressLine(r, report.NewStatusLine(stderr, width), time.Now())
	p.ticker = time.NewTicker(progressEvery)
	p.run(p.ticker.C)
	return p
}

func newProgressLine(src progressSource, line *report.StatusLine, start time.Time) *progressLine {
	return &progressLine{src: src, line: line, start: start}
}

// run starts the goroutine that redraws the line at each tick, with the
// tick's time as now.
func (p *progressLine) run(tick <-chan time.Time) {
	stop, done := make(chan struct{}), make(chan struct{})
	p.stop, p.done = stop, done
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case now := <-tick:
				p.draw(now)
			}
		}
	}()
}

// draw shows the line as of now, once the run has lasted progressDelay.
func (p *progressLine) draw(now time.Time) {
	elapsed := now.Sub(p.start)
	if elapsed < progressDelay {
		return
	}
	read, total := p.src.Progress()
	pr := report.Progress{Read: read, Total: total, Packets: p.packets.Load(), Elapsed: elapsed}
	p.mu.Lock()
	p.line.ShowProgress(pr)
	p.mu.Unlock()
}

// count stores the packets r has read, for the line. Pump calls it every
// progressPackets packets and at the end.
func (p *progressLine) count(r *capture.Reader) {
	if p != nil {
		p.packets.Store(r.Stats().Frames)
	}
}

// finish stops the goroutine and erases the line: call it before writing
// anything else to standard error. It may be called again.
func (p *progressLine) finish() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.stop = nil
	if p.ticker != nil {
		p.ticker.Stop()
	}
	p.mu.Lock()
	p.line.Clear()
	p.mu.Unlock()
}

// output returns w, the command's standard output; when that is a
// terminal too (the line's, most likely), a writer that erases the line
// before each write, so that records do not start after the line's text.
// The report writers buffer 64 KiB, so this costs a lock per 64 KiB.
func (p *progressLine) output(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	if _, ok := terminalWidth(w); !ok {
		return w
	}
	return erasingWriter{p, w}
}

type erasingWriter struct {
	p *progressLine
	w io.Writer
}

func (e erasingWriter) Write(b []byte) (int, error) {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	e.p.line.Clear()
	return e.w.Write(b)
}
