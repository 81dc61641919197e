package findings

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
	"why502/internal/timecmp"
)

// Kind names a finding.
type Kind string

// The finding kinds (issue 5).
const (
	BackendDown     Kind = "backend_down"
	WriteTimeout    Kind = "write_timeout"
	KeepaliveRace   Kind = "keepalive_race"
	StaleUpstream   Kind = "stale_upstream"
	HiddenRetries   Kind = "hidden_retries"
	CaptureCoverage Kind = "capture_coverage"
)

// Finding is one conclusion with its evidence and what to change.
type Finding struct {
	Kind Kind
	// Upstream is the backend concerned; invalid for CaptureCoverage.
	Upstream netip.AddrPort
	// Start and End bound the window the finding covers; End is zero when
	// the window was still open at the end of the capture.
	Start, End time.Time
	// Count is what the finding counts: refused or unanswered connects
	// (backend_down, stale_upstream), premature closes (write_timeout),
	// races (keepalive_race), retried requests (hidden_retries), problems
	// (capture_coverage).
	Count      int
	Conclusion string
	Advice     string
	Evidence   []httpmatch.Evidence
	// Conns are the connections involved (client side first), at most
	// Options.MaxEvidence of them, for a display filter or a slice.
	Conns [][2]netip.AddrPort

	// Kind-specific numbers; zero when they do not apply.
	Down            time.Duration // backend_down: End - Start
	Requests        int           // requests that got a 5xx because of it
	Retried         int           // requests that were retried invisibly
	WriteTimeout    time.Duration // write_timeout: the close delay inferred
	Jitter          time.Duration // write_timeout, keepalive_race: spread (max - min) of the samples
	IdleTimeout     time.Duration // keepalive_race: the backend's idle timeout inferred
	IdleSamples     int           // keepalive_race: idle closes it was inferred from
	ProxyIdleMax    time.Duration // keepalive_race: longest idle before the proxy reused a connection
	ExtraLatency    time.Duration // hidden_retries: total latency the failed attempts added
	MaxExtraLatency time.Duration // hidden_retries: the most added to one request
	Methods         map[string]int
	Crash           bool // backend_down: every open connection was closed at once
}

// Options tune a Collector. The zero value gives the defaults.
type Options struct {
	// MaxEvidence caps the evidence frames and connections kept per finding. Default 8.
	MaxEvidence int
	// Reorder is how long, in capture time, a connect outcome waits before
	// it is used, so that outcomes learned out of order (a refused connect
	// is done only after its linger) are taken in SYN order. Default 4s.
	Reorder time.Duration
	// ConnectTimeout decides a SYN unanswered this long as failed. Default 3s.
	ConnectTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxEvidence <= 0 {
		o.MaxEvidence = 8
	}
	if o.Reorder <= 0 {
		o.Reorder = 4 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	return o
}

// Coverage is what the run knows about its input, for capture_coverage.
type Coverage struct {
	Files   []string
	Capture capture.Stats
	Flows   flows.Stats
	Analyze httpmatch.AnalyzeStats
}

// Collector gathers connections and incidents and, at the end, states the
// findings. Feed it with Tap (connections) and Incident; call Findings
// once after the Analyzer's Flush. Not safe for concurrent use.
type Collector struct {
	opts  Options
	now   time.Time
	nowNs int64 // timecmp.Nanos(now)

	servers map[netip.AddrPort]*server
	// upstreams are the servers the proxy was seen using (incident attempts).
	upstreams map[netip.AddrPort]bool
	fronts    map[netip.AddrPort]bool

	pending  map[uint64]*attempt // connect attempts still in their handshake (bound.go)
	resolved map[uint64]bool     // attempts whose outcome was taken before Done
	// due holds the pending attempts by SYN time, for Advance to take
	// each once ConnectTimeout has passed instead of scanning them all at
	// every packet (quadratic under a SYN flood).
	due    dueHeap
	events eventHeap

	retries  map[netip.AddrPort]*retryAgg
	races    map[netip.AddrPort]*raceAgg
	inferred int
	// incomplete counts the incidents whose evidence has holes (Incident.Missing).
	incomplete int
	incidents  int
	// Timeline is per bin (one second, wider on long runs), per upstream.
	timeline map[netip.AddrPort]map[int64]*Bucket
	binSecs  int64
	// lastBins are bucket's last two answers, newest first: requests
	// alternate between the proxy's front and an upstream, in the
	// current bin (pprof: the two map lookups were 5 % of the matching
	// goroutine).
	lastBins [2]binRef

	// Beyond maxServers distinct servers (bound.go) the rest share these,
	// never reported; untracked counts the connections that went to them
	// (Conn), as capture_coverage reports it.
	overflow       server
	overflowBucket Bucket
	untracked      int64
}

// maxTimelineBins bounds each upstream's timeline: past it the bins
// double in width, so a live run of days keeps a bounded timeline.
const maxTimelineBins = 4096

// New returns an empty Collector.
func New(opts Options) *Collector {
	return &Collector{
		opts:      opts.withDefaults(),
		servers:   map[netip.AddrPort]*server{},
		upstreams: map[netip.AddrPort]bool{},
		fronts:    map[netip.AddrPort]bool{},
		pending:   map[uint64]*attempt{},
		resolved:  map[uint64]bool{},
		retries:   map[netip.AddrPort]*retryAgg{},
		races:     map[netip.AddrPort]*raceAgg{},
		timeline:  map[netip.AddrPort]map[int64]*Bucket{},
		binSecs:   1,
		nowNs:     math.MinInt64, // timecmp.Nanos of the zero time
	}
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (c *Collector) clock(t time.Time) {
	// The time is often the clock's already: Tap gives a chunk's time
	// (data), then its packet's (Advance), and packets share timestamps.
	// Spare Nanos, a call, then (perf: clock's comparisons were 1.6 %).
	if t == c.now {
		return
	}
	if ns := timecmp.Nanos(t); timecmp.After(&t, ns, &c.now, c.nowNs) {
		c.now, c.nowNs = t, ns
	}
}

func (c *Collector) server(ap netip.AddrPort) *server {
	ap = unmap(ap)
	s := c.servers[ap]
	if s == nil {
		if len(c.servers) >= maxServers {
			return &c.overflow
		}
		s = &server{addr: ap}
		c.servers[ap] = s
	}
	return s
}

// Bucket counts one second of one upstream's traffic.
type Bucket struct {
	Requests  int // requests sent to it (client turns on its connections)
	Failed    int // connects refused or unanswered
	Status5xx int // 5xx the proxy sent with it as the last attempt's upstream
}

// binRef is one of bucket's answers.
type binRef struct {
	up  netip.AddrPort
	sec int64
	b   *Bucket
}

func (c *Collector) bucket(up netip.AddrPort, t time.Time) *Bucket {
	sec := t.Unix()
	// Most calls fall in the bin of one of the last two calls: find it
	// without floorDiv's division (perf: bucket was 0.8 %; with front and
	// upstream alternating, checking the newest alone divided at every
	// other call). A bin is [r.sec, r.sec+binSecs): sec-r.sec, at least
	// 0, is compared unsigned, as it may not fit in an int64.
	for i, r := range c.lastBins {
		if r.b != nil && r.up == up && sec >= r.sec && uint64(sec-r.sec) < uint64(c.binSecs) {
			if i > 0 {
				c.lastBins[0], c.lastBins[i] = r, c.lastBins[0]
			}
			return r.b
		}
	}
	s := floorDiv(sec, c.binSecs) * c.binSecs
	m := c.timeline[up]
	if m == nil {
		if len(c.timeline) >= maxServers {
			c.overflowBucket = Bucket{}
			return &c.overflowBucket
		}
		m = map[int64]*Bucket{}
		c.timeline[up] = m
	}
	b := m[s]
	if b == nil {
		if len(m) >= maxTimelineBins {
			c.widenBins()
			return c.bucket(up, t)
		}
		b = &Bucket{}
		m[s] = b
	}
	c.lastBins[1], c.lastBins[0] = c.lastBins[0], binRef{up, s, b}
	return b
}

// widenBins doubles the width of every timeline's bins, merging them.
func (c *Collector) widenBins() {
	c.binSecs *= 2
	c.lastBins = [2]binRef{} // their buckets are merged
	for up, m := range c.timeline {
		wide := make(map[int64]*Bucket, len(m)/2+1)
		for s, b := range m {
			k := floorDiv(s, c.binSecs) * c.binSecs
			if w := wide[k]; w != nil {
				w.Requests += b.Requests
				w.Failed += b.Failed
				w.Status5xx += b.Status5xx
			} else {
				wide[k] = b
			}
		}
		c.timeline[up] = wide
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// TimelineRow is one bin of the timeline: a second, or more on long runs
// (see maxTimelineBins); Second is the bin's start.
type TimelineRow struct {
	Second time.Time
	Bucket
}

// Timeline returns, per upstream the proxy used, its traffic per bin
// (only the bins with traffic), oldest first.
func (c *Collector) Timeline() map[netip.AddrPort][]TimelineRow {
	out := map[netip.AddrPort][]TimelineRow{}
	for up, m := range c.timeline {
		if !c.upstreams[up] {
			continue
		}
		rows := make([]TimelineRow, 0, len(m))
		for s, b := range m {
			rows = append(rows, TimelineRow{Second: time.Unix(s, 0).UTC(), Bucket: *b})
		}
		slices.SortFunc(rows, func(a, b TimelineRow) int { return a.Second.Compare(b.Second) })
		out[up] = rows
	}
	return out
}

// Incident takes one incident or hidden failure, as the Analyzer decides it.
func (c *Collector) Incident(in httpmatch.Incident) {
	c.clock(in.Time)
	c.fronts[unmap(in.Proxy)] = true
	for _, a := range in.Attempts {
		c.upstreams[unmap(a.Upstream)] = true
	}
	if in.Upstream.IsValid() {
		c.upstreams[unmap(in.Upstream)] = true
	}
	if !in.Hidden {
		c.incidents++
		switch {
		case len(in.Missing) > 0:
			c.incomplete++
		case in.Inferred:
			c.inferred++
		}
		if in.Upstream.IsValid() {
			c.bucket(unmap(in.Upstream), in.Time).Status5xx++
		}
	}
	c.raceIncident(&in)
	c.retryIncident(&in)
	c.downIncident(&in)
}
