package capture

import "sync"

// Prefetching (Options.Prefetch): reading, decompressing and decoding run
// in a goroutine of their own, a few batches of packets ahead of the
// caller, so that on a machine with two cores or more they overlap with
// the caller's work (flows, HTTP, correlation). Packets reach the caller
// in the same order as without prefetching; only the time they are read
// changes.

const (
	prefetchBatches = 4         // batches in flight: filled, queued, in use
	batchPackets    = 1024      // packets per batch
	batchBytes      = 256 << 10 // payload bytes per batch, roughly
)

// batch is packets read ahead, their payloads copied into arena (the
// reader reuses its buffers), and the reader's counts after the last of them.
type batch struct {
	pkts     []Packet
	arena    []byte
	stats    Stats
	warnings []Warning
	err      error // io.EOF or the error that ended reading, after pkts
}

// prefetch is the caller's side of the reading goroutine.
type prefetch struct {
	full, free chan *batch
	done       chan struct{} // closed by stop
	wg         sync.WaitGroup
	// cur is the batch being read from, set by the first next; its
	// stats and warnings are the reader's as of its last packet.
	cur     *batch
	i       int
	stopped bool
}

// start runs r's reading in a goroutine of its own.
func (r *Reader) startPrefetch() {
	p := &prefetch{
		full: make(chan *batch, prefetchBatches),
		free: make(chan *batch, prefetchBatches),
		done: make(chan struct{}),
	}
	for range prefetchBatches {
		p.free <- &batch{pkts: make([]Packet, 0, batchPackets), arena: make([]byte, 0, 2*batchBytes)}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		r.fill(p)
	}()
	r.pre = p
}

// fill is the reading goroutine: it fills free batches until the input
// ends or stop is called. Nothing but this goroutine touches r's streams.
func (r *Reader) fill(p *prefetch) {
	for {
		var b *batch
		select {
		case b = <-p.free:
		case <-p.done:
			return
		}
		b.pkts, b.arena, b.err = b.pkts[:0], b.arena[:0], nil
		for len(b.pkts) < batchPackets && len(b.arena) < batchBytes {
			// Decoded in place, in the batch's next slot (within its
			// capacity, batchPackets).
			n := len(b.pkts)
			b.pkts = b.pkts[:n+1]
			pk := &b.pkts[n]
			if err := r.nextInto(pk); err != nil {
				b.pkts = b.pkts[:n]
				b.err = err
				break
			}
			off := len(b.arena)
			// The arena has room for a whole record past batchBytes, so
			// this does not grow it (it would still be correct if it did:
			// earlier payloads keep the old array).
			b.arena = append(b.arena, pk.Payload...)
			pk.Payload = b.arena[off:len(b.arena):len(b.arena)]
		}
		b.stats, b.warnings = r.stats, r.warnings
		p.full <- b // never blocks: there are prefetchBatches batches
		if b.err != nil {
			return
		}
	}
}

// next is Reader.Next when prefetching.
func (p *prefetch) next() (*Packet, error) {
	for p.cur == nil || p.i >= len(p.cur.pkts) {
		if p.cur != nil {
			if p.cur.err != nil {
				return nil, p.cur.err
			}
			p.free <- p.cur
		}
		p.cur, p.i = <-p.full, 0
	}
	p.i++
	return &p.cur.pkts[p.i-1], nil
}

// stop ends the reading goroutine and waits for it, before the files close.
func (p *prefetch) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	close(p.done)
	p.wg.Wait()
}
