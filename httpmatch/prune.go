package httpmatch

import "time"

// What the analyzer forgets, and when: memory follows the traffic of the
// decision delay (Hold) and, for failures, of Horizon.

// sweepEvery is how often, in capture time, prune sweeps the lists.
const sweepEvery = time.Second

// prune drops, once per sweepEvery of capture time, the records that can
// no longer be matched (used, decided as a front, connected) and those
// older than Horizon. Each sweep costs the records alive, which under
// steady load is the traffic of Hold, so it is cheap at that rate.
func (a *Analyzer) prune() {
	if a.now.Sub(a.lastSweep) < sweepEvery {
		return
	}
	a.lastSweep = a.now
	a.countUnanswered()
	limit := a.now.Add(-a.opts.Horizon)
	answered := nanos(a.now.Add(-2 * a.opts.Hold))
	for k, l := range a.index {
		l.recs = sweepAnswered(l.recs, answered)
		if l.recs = sweep(l.recs, limit); len(l.recs) == 0 {
			delete(a.index, k)
		}
	}
	a.failed = sweep(a.failed, limit)
	a.awaiting = sweep(a.awaiting, limit)
	a.pruneFrontData(limit)
	a.shed.prune(nanos(limit))
}

// countUnanswered counts the front requests that got no response.
func (a *Analyzer) countUnanswered() {
	for _, r := range a.unanswered {
		if a.roles.isFront(r.conn.server) {
			a.stats.Requests++
		}
	}
	clear(a.unanswered)
	a.unanswered = a.unanswered[:0]
}

// sweepAnswered marks dead the exchanges with a complete answer below 500
// (OutcomeOK) added before limit (2 Hold ago). Such an attempt can only
// be the last of a request's attempts (a retry follows a failure), and
// the request it belongs to answered within maxRelay of it, so it was
// decided Hold after that; after another Hold nothing waits for it.
// Failures stay for Horizon: they may be early retries of a request whose
// attempts take minutes (connect timeouts). Unmatched answers (a request
// retried on a second kept-alive connection, a pairing lost to a gap) no
// longer pile up for Horizon: under steady load the memory then follows
// the traffic of 2 Hold, not of Horizon (the 2 GB make-large capture held
// 12k of them, 15 MB of heap, at its end).
func sweepAnswered(l []timed, limit int64) []timed {
	for _, e := range l {
		r := e.r
		if x := r.ex; r.addedNs < limit && x != nil && x.status > 0 && x.status < 500 &&
			x.Response.Flags&(Invalid|BadFraming|TooLarge|BadHeader|Partial) == 0 {
			r.dead = true
		}
	}
	return l
}

// sweep drops from l the records that can no longer be matched and those
// added before limit.
func sweep(l []timed, limit time.Time) []timed {
	lim := nanos(limit)
	out := l[:0]
	for _, e := range l {
		if r := e.r; r.addedNs < lim {
			r.dead = true
		}
		if r := e.r; !r.dead && !r.used && !r.front {
			out = append(out, e)
		}
	}
	clear(l[len(out):])
	return out
}
