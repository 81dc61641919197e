package httpmatch

import (
	"math"
	"time"
)

// What the analyzer forgets, and when: memory follows the traffic of the
// decision delay (Hold) and, for failures, of Horizon.

// sweepEvery is how often, in capture time, prune sweeps the lists.
const sweepEvery = time.Second

// prune drops, once per sweepEvery of capture time, the records that can
// no longer be matched (used, decided as a front, connected) and those
// older than Horizon. Each sweep costs the records alive, which under
// steady load is the traffic of Hold, so it is cheap at that rate.
func (a *Analyzer) prune() {
	if subNs(a.nowNs, a.lastSweep) < int64(sweepEvery) {
		return
	}
	a.lastSweep = a.nowNs
	a.countUnanswered()
	limit := a.now.Add(-a.opts.Horizon)
	answered := nanos(a.now.Add(-2 * a.opts.Hold))
	// The exchanges that started after young cannot be dropped yet, so
	// the sweep does not read them (pprof: reading every record each
	// second was a twelfth of the matching goroutine, in cache misses).
	// A record is used or decided as a front only by a decision, Hold
	// after a response it started at most slack after; and it ages out
	// only once added (so started) before limit or answered.
	young := max(nanos(limit), subNs(a.nowNs, int64(a.opts.Hold-slack)))
	for k, l := range a.index {
		l.fails = sweepBefore(l.fails, young, limit, answered)
		if l.recs = sweepBefore(l.recs, young, limit, answered); len(l.recs) == 0 {
			l.gone = true
			delete(a.index, k)
		}
	}
	a.failed = sweep(a.failed, limit, math.MinInt64)
	a.awaiting = sweep(a.awaiting, limit, math.MinInt64)
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

// sweep drops from l the records that can no longer be matched and those
// added before limit, in one pass.
// Exchanges with a complete answer below 500 (OutcomeOK) added before
// answered (2 Hold ago) are dead too. Such an attempt can only
// be the last of a request's attempts (a retry follows a failure), and
// the request it belongs to answered within maxRelay of it, so it was
// decided Hold after that; after another Hold nothing waits for it.
// Failures stay for Horizon: they may be early retries of a request whose
// attempts take minutes (connect timeouts). Unmatched answers (a request
// retried on a second kept-alive connection, a pairing lost to a gap) no
// longer pile up for Horizon: under steady load the memory then follows
// the traffic of 2 Hold, not of Horizon (the 2 GB make-large capture held
// 12k of them, 15 MB of heap, at its end).
func sweep(l []timed, limit time.Time, answered int64) []timed {
	lim := nanos(limit)
	out := l[:0]
	for _, e := range l {
		r := e.r
		if r.addedNs < lim || r.addedNs < answered && answeredOK(r) {
			r.dead = true
		}
		if !r.dead && !r.used && !r.front {
			out = append(out, e)
		}
	}
	clear(l[len(out):])
	return out
}

// sweepBefore is sweep for a list in start order, of which only the
// records that started at or before young are read: the rest are kept.
func sweepBefore(l []timed, young int64, limit time.Time, answered int64) []timed {
	old := searchTimeAfter(l, young)
	out := sweep(l[:old], limit, answered)
	if len(out) == old {
		return l
	}
	n := copy(l[len(out):], l[old:])
	clear(l[len(out)+n:])
	return l[:len(out)+n]
}

// answeredOK reports whether r is an exchange whose answer was complete
// and below 500 (OutcomeOK).
func answeredOK(r *record) bool {
	x := r.ex
	return x != nil && x.status > 0 && x.status < 500 &&
		x.respFlags&(Invalid|BadFraming|TooLarge|BadHeader|Partial) == 0
}
