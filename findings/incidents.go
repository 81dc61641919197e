package findings

import (
	"fmt"
	"net/netip"
	"time"

	"why502/httpmatch"
)

// raceAgg counts the failed attempts on reused connections of one upstream.
type raceAgg struct {
	n, retried int
	methods    map[string]int
	idle       stat
	first      time.Time
	last       time.Time
	evidence   []httpmatch.Evidence
	conns      [][2]netip.AddrPort
}

// retryAgg counts the requests retried after a failed attempt on one upstream.
type retryAgg struct {
	requests int
	first    time.Time
	last     time.Time
	extra    time.Duration
	maxExtra time.Duration
	outcomes map[httpmatch.Cause]int
	evidence []httpmatch.Evidence
	conns    [][2]netip.AddrPort
}

// minRaceIdle: a failed attempt on a connection reused after less idle
// time than this is not an idle-timeout race (the backend failed on a
// busy connection).
const minRaceIdle = 100 * time.Millisecond

func (c *Collector) raceIncident(in *httpmatch.Incident) {
	for i, a := range in.Attempts {
		switch a.Outcome {
		case httpmatch.KeepaliveRace, httpmatch.UpstreamClosed, httpmatch.UpstreamReset:
		default:
			continue
		}
		if !a.Reused || a.Idle < minRaceIdle {
			continue
		}
		up := unmap(a.Upstream)
		r := c.races[up]
		if r == nil {
			r = &raceAgg{methods: map[string]int{}}
			c.races[up] = r
		}
		r.n++
		r.methods[in.Method]++
		if i < len(in.Attempts)-1 {
			r.retried++
		}
		r.idle.add(a.Idle)
		if r.first.IsZero() {
			r.first = a.Start
		}
		r.last = a.Start
		for _, e := range in.Evidence {
			if len(r.evidence) < c.opts.MaxEvidence {
				r.evidence = append(r.evidence, e)
			}
		}
		r.conns = appendConn(r.conns, c.opts.MaxEvidence, unmap(a.Local), up)
	}
}

func (c *Collector) retryIncident(in *httpmatch.Incident) {
	if len(in.Attempts) < 2 {
		return
	}
	last := in.Attempts[len(in.Attempts)-1]
	extra := last.Start.Sub(in.Attempts[0].Start)
	seen := map[netip.AddrPort]bool{}
	for _, a := range in.Attempts[:len(in.Attempts)-1] {
		if !a.Outcome.Failed() {
			continue
		}
		up := unmap(a.Upstream)
		r := c.retries[up]
		if r == nil {
			r = &retryAgg{outcomes: map[httpmatch.Cause]int{}}
			c.retries[up] = r
		}
		r.outcomes[a.Outcome]++
		if seen[up] {
			continue
		}
		seen[up] = true
		r.requests++
		r.extra += extra
		r.maxExtra = max(r.maxExtra, extra)
		if r.first.IsZero() {
			r.first = in.Attempts[0].Start
		}
		r.last = last.Start
		if len(r.evidence) < c.opts.MaxEvidence {
			r.evidence = append(r.evidence, httpmatch.Evidence{
				File: evFile(in), Frame: evFrame(in), Time: in.Attempts[0].Start,
				What: fmt.Sprintf("%s %s: %s on %s, retried on %s", in.Method, in.URI, a.Outcome, up, unmap(last.Upstream)),
			})
		}
		r.conns = appendConn(r.conns, c.opts.MaxEvidence, unmap(a.Local), up)
	}
}

func evFile(in *httpmatch.Incident) string {
	if len(in.Evidence) > 0 {
		return in.Evidence[0].File
	}
	return ""
}

func evFrame(in *httpmatch.Incident) int64 {
	if len(in.Evidence) > 0 {
		return in.Evidence[0].Frame
	}
	return 0
}
