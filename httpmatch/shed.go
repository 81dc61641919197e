package httpmatch

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"why502/flows"
)

// Every connection that begins with a SYN is a connect attempt to the
// analyzer (Start), kept for matching for Horizon. Under a SYN flood that
// is millions of records in minutes, so connect attempts are bounded
// (issue 8): those the tracker sheds are released with their connection,
// unless they look like the proxy's own, and beyond MaxAttempts the
// oldest are shed, the ones that cannot be upstream attempts first. What
// was shed is counted (AnalyzeStats) and, when it may have been the
// proxy's, logged by time so that an incident without an attempt says
// what it may lack (markShed).

// DefaultMaxAttempts is the default AnalyzeOptions.MaxAttempts: as many
// as the tracker keeps connections.
const DefaultMaxAttempts = flows.DefaultMaxConns

// attemptClass says how likely a connect attempt is to be one of the
// proxy's upstream attempts, as far as the roles know when it is asked;
// the least likely are shed first.
type attemptClass int8

const (
	// notUpstream: to a proxy front (a SYN flood on the proxy), or with
	// --upstream to no upstream named: never matched with a front request.
	notUpstream attemptClass = iota
	// unknownRole: the roles do not tell (not learned yet).
	unknownRole
	// likelyUpstream: to a known upstream, or from an address the proxy
	// connects to upstreams from (the proxy's connects come from few
	// local addresses, a flood's from many).
	likelyUpstream
)

func (a *Analyzer) attemptClass(cs *connState) attemptClass {
	ro := a.roles
	if ro.frontHidden() {
		switch {
		case ro.tls[cs.server]:
			return notUpstream
		case ro.inferredUpstream(cs.client, cs.server):
			return likelyUpstream
		}
		return unknownRole
	}
	if len(ro.fixedUp) > 0 {
		if ro.isFixedUpstream(cs.server) {
			return likelyUpstream
		}
		return notUpstream
	}
	if ro.fronts+len(ro.fixedFront) > 0 && ro.isFrontConn(cs) {
		return notUpstream
	}
	if ro.serverVotes(cs).upstream > 0 || ro.local[cs.client.Addr()] > 0 || a.frontHost(cs.client.Addr()) {
		return likelyUpstream
	}
	return unknownRole
}

// frontHost reports whether addr is the address of a proxy front: the
// proxy connecting from the address it listens on.
func (a *Analyzer) frontHost(addr netip.Addr) bool {
	ro := a.roles
	for _, f := range ro.fixedFront {
		if f.Addr() == addr {
			return true
		}
	}
	for s, v := range ro.votes {
		if v.front > v.upstream && s.Addr() == addr {
			return true
		}
	}
	return false
}

// shedLog is what the analyzer remembers of what it shed.
type shedLog struct {
	// buckets count the shed attempts that may have been the proxy's, by
	// shedBucket of their SYN time, in time order; pruned at Horizon.
	buckets []shedBucket
	// conns are the connections with payload the tracker shed, by
	// 4-tuple, at most maxShedConns (the latest): a 5xx that comes on the
	// 4-tuple afterwards has lost its request with it (decideOrphan).
	conns map[[2]netip.AddrPort]int64
	ring  []shedConn
	next  int
}

type shedBucket struct{ at, n int64 }

type shedConn struct {
	key [2]netip.AddrPort
	at  int64
}

// shedBucket is the resolution of shedLog's time windows: an incident is
// said to lack an attempt when one was shed within it of the request.
const shedBucketNs = int64(10 * time.Millisecond)

// maxShedBuckets bounds shedLog.buckets beyond what Horizon prunes (a
// Horizon of hours).
const maxShedBuckets = 1 << 16

// maxShedConns bounds shedLog.conns.
const maxShedConns = 4096

// note logs one shed attempt that started at startNs.
func (l *shedLog) note(startNs int64) {
	b := startNs / shedBucketNs
	i, found := slices.BinarySearchFunc(l.buckets, b, func(x shedBucket, b int64) int { return cmpInt64(x.at, b) })
	if found {
		l.buckets[i].n++
		return
	}
	l.buckets = slices.Insert(l.buckets, i, shedBucket{at: b, n: 1})
	if len(l.buckets) > maxShedBuckets {
		l.buckets = slices.Delete(l.buckets, 0, len(l.buckets)-maxShedBuckets)
	}
}

// during counts the shed attempts that started in [lo, hi], to the
// resolution of shedBucketNs.
func (l *shedLog) during(lo, hi int64) int64 {
	lb, hb := lo/shedBucketNs, hi/shedBucketNs
	i, _ := slices.BinarySearchFunc(l.buckets, lb, func(x shedBucket, b int64) int { return cmpInt64(x.at, b) })
	var n int64
	for ; i < len(l.buckets) && l.buckets[i].at <= hb; i++ {
		n += l.buckets[i].n
	}
	return n
}

// prune forgets the attempts that started before limitNs.
func (l *shedLog) prune(limitNs int64) {
	lb := limitNs / shedBucketNs
	i, _ := slices.BinarySearchFunc(l.buckets, lb, func(x shedBucket, b int64) int { return cmpInt64(x.at, b) })
	if i > 0 {
		l.buckets = slices.Delete(l.buckets, 0, i)
	}
}

// noteConn remembers that the connection client -> server was shed at atNs.
func (l *shedLog) noteConn(client, server netip.AddrPort, atNs int64) {
	if l.conns == nil {
		l.conns = map[[2]netip.AddrPort]int64{}
		l.ring = make([]shedConn, maxShedConns)
	}
	old := l.ring[l.next]
	if old.at != 0 && l.conns[old.key] == old.at {
		delete(l.conns, old.key)
	}
	k := [2]netip.AddrPort{client, server}
	l.ring[l.next] = shedConn{key: k, at: atNs}
	l.next = (l.next + 1) % maxShedConns
	l.conns[k] = atNs
}

// connShedBefore reports whether a connection client -> server was shed
// at or before atNs.
func (l *shedLog) connShedBefore(client, server netip.AddrPort, atNs int64) bool {
	t, ok := l.conns[[2]netip.AddrPort{client, server}]
	return ok && t <= atNs
}

func cmpInt64(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// releaseDone is Done's first step: it reports whether Done has nothing
// left to do. A connection the tracker shed (flows.Conn.Shed) that
// carried payload is remembered by 4-tuple (its successor on the 4-tuple
// starts mid-stream, its request lost). A connect attempt the tracker
// shed while still unanswered is released at once with its record, unless
// it looks like the proxy's own: that one stays (its record says it was
// shed), within MaxAttempts. A failed connect that Start did not keep
// (notAttempt) is not kept now either. A connection that connected and
// carried nothing leaves nothing to keep.
func (a *Analyzer) releaseDone(c *flows.Conn) bool {
	cs := a.conns.get(c.ID)
	if c.Shed && cs != nil && cs.parsed {
		a.shed.noteConn(cs.client, cs.server, nanos(c.Last))
		return false
	}
	if c.Handshake == flows.Established && cs != nil && !cs.parsed {
		// Connected and silent (a flood's open connections): nothing was
		// parsed and its attempt is no failed one; Done would only copy
		// the connection for a record that is dead.
		a.conns.del(c.ID)
		if cs.attempt != nil {
			cs.attempt.dead = true
		}
		cs.live = nil
		return true
	}
	if c.Handshake != flows.Unanswered && c.Handshake != flows.Refused {
		return false
	}
	if cs == nil {
		tmp := &connState{client: unmap(c.Client), server: unmap(c.Server)}
		switch {
		case c.Shed:
			a.countShed(tmp, c.First.Time)
		case a.attemptClass(tmp) != notUpstream:
			return false // a Tracker that does not call Start: Done keeps it
		}
		a.failSeen = true
		return true
	}
	if !c.Shed || c.Handshake != flows.Unanswered || cs.parsed {
		return false
	}
	if cs.attempt != nil && a.attemptClass(cs) == likelyUpstream {
		return false
	}
	a.failSeen = true
	a.conns.del(c.ID)
	if cs.attempt != nil {
		a.dropAttempt(cs.attempt)
	}
	cs.live = nil
	return true
}

// notAttempt reports whether a connection starting with a SYN is no
// upstream attempt, by the roles known at its SYN: to a proxy front (or,
// with --upstream, to none named). Start keeps nothing of it, so a SYN
// flood on the proxy's front costs the analyzer nothing per SYN.
func (a *Analyzer) notAttempt(c *flows.Conn) bool {
	probe := connState{client: unmap(c.Client), server: unmap(c.Server)}
	return a.attemptClass(&probe) == notUpstream
}

// dropAttempt sheds connect attempt r: it is no longer matched.
func (a *Analyzer) dropAttempt(r *record) {
	r.dead = true
	if r.conn.attempt == r {
		r.conn.attempt = nil
	}
	a.countShed(r.conn, r.startTime())
}

func (a *Analyzer) countShed(cs *connState, start time.Time) {
	a.stats.ShedAttempts++
	if a.attemptClass(cs) == notUpstream {
		a.stats.ShedNotUpstream++
		return
	}
	a.shed.note(nanos(start))
}

// limitAttempts keeps the connect attempts within MaxAttempts: past it,
// those that can no longer be matched (or connected) go first, then the oldest of each
// class, least likely first, down to 7/8 of the cap so that the work is
// done once per MaxAttempts/8 attempts, not at each.
func (a *Analyzer) limitAttempts() {
	maxN := a.opts.MaxAttempts
	if maxN <= 0 {
		maxN = DefaultMaxAttempts
	}
	if len(a.failed) <= maxN {
		return
	}
	a.failed = sweep(a.failed, a.now.Add(-a.opts.Horizon), math.MinInt64)
	// Those that connected are no failed attempt (Done would mark them
	// dead): not shed, only dropped sooner.
	out := a.failed[:0]
	for _, e := range a.failed {
		if v := e.r.conn.view(); v != nil && v.Handshake == flows.Established {
			e.r.dead = true
			continue
		}
		out = append(out, e)
	}
	clear(a.failed[len(out):])
	a.failed = out
	target := maxN - maxN/8
	for cl := notUpstream; cl <= likelyUpstream && len(a.failed) > target; cl++ {
		excess := len(a.failed) - target
		out := a.failed[:0]
		for _, r := range a.failed {
			if excess > 0 && a.attemptClass(r.r.conn) == cl {
				a.dropAttempt(r.r)
				excess--
				continue
			}
			out = append(out, r)
		}
		clear(a.failed[len(out):])
		a.failed = out
	}
}

// markShed adds to l, for front exchange f answered without any upstream
// attempt (no_upstream, connect_unreachable, or a guess from the front),
// the connect attempts that may have been the proxy's and were shed
// while f waited: one of them may be f's.
func (a *Analyzer) markShed(l *lack, f *record, chain []attemptCand) {
	if len(chain) > 0 || f == nil || f.ex == nil || f.ex.status == 0 {
		return
	}
	n := a.shed.during(subNs(f.startNs, int64(slack)), f.ex.respNs)
	if n == 0 {
		return
	}
	l.shed = true
	l.add("%d connect attempt%s that started during the request shed at --max-conns before %s could be matched: one may be this request's",
		n, plural(int(n)), pronoun(n))
}

func pronoun(n int64) string {
	if n == 1 {
		return "it"
	}
	return "they"
}

// frontShed reports whether front connection cs's 4-tuple was shed by
// the tracker before atNs: a 5xx on it since has lost its request.
func (a *Analyzer) frontShed(cs *connState, at time.Time) bool {
	atNs := nanos(at)
	return cs.midstream && a.shed.connShedBefore(cs.client, cs.server, atNs)
}
