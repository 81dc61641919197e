package findings

import (
	"time"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
)

// Pipeline is the analysis `why502 analyze` and `why502 live` run: a
// flows.Tracker, an httpmatch.Analyzer, and a Collector tapped between
// them (it also needs the connections that produced no 5xx). Everything
// that runs the analysis wires it here, so that all give the same
// incidents and findings on the same packets.
type Pipeline struct {
	Tracker   *flows.Tracker
	Analyzer  *httpmatch.Analyzer
	Collector *Collector

	tap   *Tap
	split *Split
}

// PipelineOptions configure a Pipeline. Flows.WantData is always set;
// Analyze.MaxAttempts is Flows.MaxConns unless set; Flows.Linger is
// DefaultLinger and Analyze.Hold is Flows.Linger plus DefaultRelay unless
// set.
type PipelineOptions struct {
	Analyze  httpmatch.AnalyzeOptions
	Flows    flows.Options
	Findings Options
	// Split runs the HTTP parsing in the caller's goroutine and the rest
	// of the analysis in another (Split): on two cores or more, faster.
	// The incident function is then called from that goroutine, and the
	// Analyzer's and Collector's counts may be read only after Flush.
	Split bool
}

// The analysis's timing, for files and live captures alike. An upstream
// exchange that failed is handed to the analyzer only when its connection
// is done, Linger after its last packet (flows.Options.Linger: late ACKs
// and retransmitted FINs and RSTs are absorbed by the closed connection
// instead of starting a new one); a front response is decided Hold after
// it was sent, which must cover that linger and the proxy's delay in
// relaying a failure (DefaultRelay). Exchanges wait for their decision in
// memory, so under load Hold sets the live heap: 19 MB at 9k requests/s
// (make-large's keep-alive capture), 45 MB with flows' default linger of
// 2 s and a Hold of 3 s, for the same incidents on every sample and
// benchmark capture.
const (
	DefaultLinger = 500 * time.Millisecond
	DefaultRelay  = 500 * time.Millisecond
	DefaultHold   = DefaultLinger + DefaultRelay
)

// NewPipeline wires the stages; incident gets each incident after the
// Collector has seen it.
func NewPipeline(opts PipelineOptions, incident func(httpmatch.Incident)) *Pipeline {
	p := &Pipeline{Collector: New(opts.Findings)}
	if opts.Flows.Linger <= 0 {
		opts.Flows.Linger = DefaultLinger
	}
	if opts.Analyze.Hold <= 0 {
		opts.Analyze.Hold = opts.Flows.Linger + DefaultRelay
	}
	if opts.Analyze.MaxAttempts == 0 {
		// One knob: flows' MaxConns bounds the connect attempts kept
		// for matching as it bounds the connections tracked.
		opts.Analyze.MaxAttempts = opts.Flows.MaxConns
	}
	p.Analyzer = httpmatch.NewAnalyzer(opts.Analyze, func(in httpmatch.Incident) {
		p.Collector.Incident(in)
		if incident != nil {
			incident(in)
		}
	})
	fopts := opts.Flows
	fopts.WantData = true
	if opts.Split {
		p.split = NewSplit(p.Analyzer, p.Collector, opts.Analyze)
		p.Tracker = flows.New(fopts, p.split.Handler())
	} else {
		p.tap = NewTap(p.Analyzer, p.Collector)
		p.Tracker = flows.New(fopts, p.tap)
	}
	return p
}

// Add takes one packet; its time is the capture time of the later stages.
func (p *Pipeline) Add(pk *capture.Packet) {
	p.Tracker.Add(pk)
	p.advance(pk.Time)
}

// Advance moves capture time to t while no packet comes (a live tick).
func (p *Pipeline) Advance(t time.Time) {
	p.Tracker.Advance(t)
	p.advance(t)
}

func (p *Pipeline) advance(t time.Time) {
	if p.split != nil {
		p.split.Advance(t)
		return
	}
	p.Analyzer.Advance(t)
	p.tap.Advance(t)
}

// Flush decides everything still waiting, at the end of the input, and
// (Split) waits for the other goroutine to finish.
func (p *Pipeline) Flush() {
	p.Tracker.Flush()
	if p.split != nil {
		p.split.Wait()
	}
	p.Analyzer.Flush()
}

// Close stops the other goroutine (Split) if Flush was not called: on an
// error that ends the run early.
func (p *Pipeline) Close() {
	if p.split != nil {
		p.split.Wait()
	}
}

// Findings are the conclusions over the whole input; call after Flush.
func (p *Pipeline) Findings(files []string, cs capture.Stats) []Finding {
	return p.Collector.Findings(Coverage{Files: files, Capture: cs, Flows: p.Tracker.Stats(), Analyze: p.Analyzer.Stats()})
}
