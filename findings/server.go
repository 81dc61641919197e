package findings

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"why502/flows"
	"why502/httpmatch"
)

// maxSamples bounds the values kept per statistic; counts, min and max
// cover them all.
const maxSamples = 512

// stat summarises durations with bounded memory: exact count, min, max
// and the first maxSamples values for the median and the cluster.
type stat struct {
	n        int
	min, max time.Duration
	samples  []time.Duration
}

func (s *stat) add(d time.Duration) {
	if s.n == 0 || d < s.min {
		s.min = d
	}
	if d > s.max {
		s.max = d
	}
	s.n++
	if len(s.samples) < maxSamples {
		s.samples = append(s.samples, d)
	}
}

// cluster returns the median of the samples and those within tol (a
// fraction, at least floor) of it: the dominant constant delay, if any.
func (s *stat) cluster(tol float64, floor time.Duration) (median, lo, hi time.Duration, n int) {
	if len(s.samples) == 0 {
		return 0, 0, 0, 0
	}
	v := slices.Clone(s.samples)
	slices.Sort(v)
	median = v[len(v)/2]
	w := max(time.Duration(float64(median)*tol), floor)
	lo, hi = median, median
	for _, d := range v {
		if d >= median-w && d <= median+w {
			n++
			lo, hi = min(lo, d), max(hi, d)
		}
	}
	return median, lo, hi, n
}

// closeEvent is a server-initiated FIN or RST.
type closeEvent struct {
	time     time.Time
	at       flows.FrameRef
	rst      bool
	inFlight bool
	client   netip.AddrPort
}

// maxCloses is how many recent server closes a server keeps, to tell
// how it went down.
const maxCloses = 64

// server aggregates one server ip:port.
type server struct {
	addr  netip.AddrPort
	conns int

	closes []closeEvent // most recent, sorted by time

	premature      stat
	prematureEv    []httpmatch.Evidence
	prematureConns [][2]netip.AddrPort
	premFirst      time.Time
	premLast       time.Time
	idle           stat
	maxReuseIdle   time.Duration

	// connect outcomes, in SYN order
	okSeen   bool
	lastOK   *event
	failures int
	run      *downRun
	windows  []*downRun
	dropped  int // windows beyond maxWindows, counted only
	firstOK  *event

	// failed-connect attempts of incidents, for the requests a window cost
	failedStarts []time.Time
	retriedStart []time.Time
}

func (s *server) addClose(e closeEvent) {
	i, _ := slices.BinarySearchFunc(s.closes, e.time, func(a closeEvent, t time.Time) int { return a.time.Compare(t) })
	s.closes = slices.Insert(s.closes, i, e)
	if len(s.closes) > maxCloses {
		s.closes = slices.Delete(s.closes, 0, len(s.closes)-maxCloses)
	}
}

// downRun is a run of failed connects to a server between two good ones.
type downRun struct {
	prevOK, nextOK *event
	first, last    *event
	count          int
	refused        int
	evidence       []httpmatch.Evidence
	conns          [][2]netip.AddrPort
	// how it went down, from the server's closes just before
	wentDown  time.Time
	crashN    int
	crash     bool
	closeSpan time.Duration
	closeEv   []httpmatch.Evidence
}

const maxWindows = 32

func (c *Collector) use(ev *event) {
	s := ev.server
	if ev.ok {
		if s.firstOK == nil {
			s.firstOK = ev
		}
		if r := s.run; r != nil {
			r.nextOK = ev
			r.evidence = appendEvidence(r.evidence, c.opts.MaxEvidence+1, ev.answer, "first connection accepted again (SYN-ACK from "+s.addr.String()+")")
			c.closeRun(s)
		}
		s.okSeen, s.lastOK = true, ev
		return
	}
	s.failures++
	c.bucket(s.addr, ev.time).Failed++
	r := s.run
	if r == nil {
		r = &downRun{prevOK: s.lastOK, first: ev}
		s.run = r
	}
	r.count++
	r.last = ev
	if ev.refused {
		r.refused++
		r.evidence = appendEvidence(r.evidence, c.opts.MaxEvidence, ev.answer, fmt.Sprintf("RST from %s refusing the SYN (frame %d)", s.addr, ev.syn.Frame))
	} else {
		r.evidence = appendEvidence(r.evidence, c.opts.MaxEvidence, ev.syn, "SYN to "+s.addr.String()+" never answered")
	}
	r.conns = appendConn(r.conns, c.opts.MaxEvidence, ev.client, s.addr)
}

func appendConn(l [][2]netip.AddrPort, max int, a, b netip.AddrPort) [][2]netip.AddrPort {
	if len(l) >= max {
		return l
	}
	return append(l, [2]netip.AddrPort{a, b})
}

// closeRun ends the current run of failures and works out how the server
// went down: its closes just before the first failure, clustered.
func (c *Collector) closeRun(s *server) {
	r := s.run
	s.run = nil
	if !s.okSeen {
		return // never accepted before: kept as failures, reported as stale if none ever is
	}
	// The latest close at or before the first failed SYN, and the closes
	// within 50 ms before each other going back: everything the process
	// had open, closed at once by its exit.
	const burst = 50 * time.Millisecond
	t0 := r.first.time
	i := len(s.closes) - 1
	for i >= 0 && s.closes[i].time.After(t0) {
		i--
	}
	if i >= 0 && t0.Sub(s.closes[i].time) <= time.Second && (r.prevOK == nil || !s.closes[i].time.Before(r.prevOK.time.Add(-time.Second))) {
		last := s.closes[i]
		j := i
		for j > 0 && s.closes[j].time.Sub(s.closes[j-1].time) <= burst {
			j--
		}
		r.wentDown = s.closes[j].time
		r.closeSpan = last.time.Sub(s.closes[j].time)
		r.crashN = i - j + 1
		for k := j; k <= i; k++ {
			e := s.closes[k]
			if e.rst || e.inFlight {
				r.crash = true
			}
			what := "FIN"
			if e.rst {
				what = "RST"
			}
			what += " from " + s.addr.String()
			if e.inFlight {
				what += " with a request unanswered"
			}
			r.closeEv = appendEvidence(r.closeEv, c.opts.MaxEvidence, e.at, what)
		}
	}
	if len(s.windows) < maxWindows {
		s.windows = append(s.windows, r)
	} else {
		s.dropped++
	}
}

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3f s", d.Seconds())
}

// downIncident notes the start of a 5xx's (or hidden failure's) failed
// connect attempts, so that a window can say how many requests it cost.
func (c *Collector) downIncident(in *httpmatch.Incident) {
	for i, a := range in.Attempts {
		if a.Outcome != httpmatch.ConnectRefused && a.Outcome != httpmatch.ConnectTimeout {
			continue
		}
		s := c.server(a.Upstream)
		last := i == len(in.Attempts)-1
		switch {
		case last && !in.Hidden && len(s.failedStarts) < maxSamples*8:
			s.failedStarts = append(s.failedStarts, a.Start)
		case !last && len(s.retriedStart) < maxSamples*8:
			s.retriedStart = append(s.retriedStart, a.Start)
		}
	}
}

func countIn(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range ts {
		if !t.Before(from.Add(-time.Millisecond)) && (to.IsZero() || !t.After(to)) {
			n++
		}
	}
	return n
}
