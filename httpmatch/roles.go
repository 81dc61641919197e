package httpmatch

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Endpoint selects upstream servers for AnalyzeOptions.Upstream: an
// address or network, and a port (0: any port).
type Endpoint struct {
	Net  netip.Prefix
	Port uint16
}

// ParseEndpoint reads "ip:port", "[ipv6]:port", "ip" or "cidr".
func ParseEndpoint(s string) (Endpoint, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a := ap.Addr().Unmap()
		return Endpoint{Net: netip.PrefixFrom(a, a.BitLen()), Port: ap.Port()}, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		a = a.Unmap()
		return Endpoint{Net: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return Endpoint{Net: p.Masked()}, nil
	}
	return Endpoint{}, fmt.Errorf("%q is not ip:port, ip or a network (cidr)", s)
}

// Match reports whether ap is in e.
func (e Endpoint) Match(ap netip.AddrPort) bool {
	return e.Net.Contains(ap.Addr().Unmap()) && (e.Port == 0 || e.Port == ap.Port())
}

func (e Endpoint) String() string {
	if e.Port == 0 {
		return e.Net.String()
	}
	if e.Net.IsSingleIP() {
		return netip.AddrPortFrom(e.Net.Addr(), e.Port).String()
	}
	return e.Net.String() + ":" + strconv.Itoa(int(e.Port))
}

// roles says which servers are the proxy's front (receiving client
// requests) and which are its upstreams, and from which addresses the
// proxy connects to upstreams. It learns from pairs of exchanges: a
// request to server F and, on another connection, the same method and URI
// sent to server U after F received it and before F answered. F then
// looks like a proxy front and U like one of its upstreams. The URI, not
// the Host, is compared: nginx rewrites Host to the upstream's name.
type roles struct {
	// votes are each server's votes; connState.votes caches its server's,
	// sparing the lookups. fronts and upstreams count the servers with
	// at least one vote as front, as upstream.
	votes             map[netip.AddrPort]*serverVotes
	fronts, upstreams int
	local             map[netip.Addr]int // proxy addresses seen connecting to upstreams

	fixedFront []netip.AddrPort
	fixedUp    []Endpoint

	// tls are the servers that received TLS (undecodable) connections:
	// a proxy front whose requests cannot be read. tlsHost are their
	// addresses; sameHost is set once such an address sent an HTTP request.
	tls      map[netip.AddrPort]bool
	tlsHost  map[netip.Addr]bool
	sameHost bool
}

func newRoles(front []netip.AddrPort, up []Endpoint) *roles {
	r := &roles{
		votes:   map[netip.AddrPort]*serverVotes{},
		local:   map[netip.Addr]int{},
		fixedUp: up,
		tls:     map[netip.AddrPort]bool{},
		tlsHost: map[netip.Addr]bool{},
	}
	for _, f := range front {
		r.fixedFront = append(r.fixedFront, unmap(f))
	}
	return r
}

// serverVotes are one server's votes as a proxy front and as an upstream.
type serverVotes struct{ front, upstream int }

// noVotes stands for a server without votes; it is never written.
var noVotes serverVotes

// serverVotes returns the votes of cs's server (read-only noVotes when it
// has none), cached in cs once there are some. Only servers that were
// voted for get an entry: the map stays as small as the proxy's roles.
func (ro *roles) serverVotes(cs *connState) *serverVotes {
	if cs.votes == nil {
		if cs.votes = ro.votes[cs.server]; cs.votes == nil {
			return &noVotes
		}
	}
	return cs.votes
}

// voteFor returns the votes of cs's server for writing, made on first use.
func (ro *roles) voteFor(cs *connState) *serverVotes {
	if v := ro.serverVotes(cs); v != &noVotes {
		return v
	}
	v := &serverVotes{}
	ro.votes[cs.server] = v
	cs.votes = v
	return v
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// maxRelay bounds how long after an upstream response header a proxy
// sends its own: it relays at once. Pairs further apart do not vote.
const maxRelay = 10 * time.Millisecond

// nestGap reports whether exchange inner (on an upstream connection) nests
// in outer (on a proxy front) the way a proxied request does: inner's
// request left after outer's arrived, and outer's response followed
// inner's within maxRelay. gap is how loosely: the two gaps added.
func nestGap(outer, inner *record) (gap time.Duration, ok bool) {
	// The times first: they reject most pairs.
	before := subNs(inner.startNs, outer.startNs)
	after := subNs(outer.ex.respNs, inner.ex.hdrNs)
	if before < 0 || after < 0 || after > int64(maxRelay) || outer.ex.status == 0 || inner.ex.status == 0 {
		return 0, false
	}
	if outer.conn == inner.conn || outer.conn.server == inner.conn.server {
		return 0, false
	}
	return time.Duration(before + after), true
}

// observe votes with a new exchange r against the recent exchanges with the
// same method and URI: same, in start order, and recent, the latest
// exchanges of any URI in the order they finished. Each exchange votes at
// most once as the outer and once as the inner of a pair, with its
// tightest partner: under load, unrelated requests for one URI also nest
// by chance, and counting every nesting would let them outvote the real
// pairs, which are tight.
//
// Both searches are bounded so that a vote costs the few exchanges near r,
// not the URI's concurrency (pprof: a scan of the newest 64 was 10 % of
// analyze at 15k requests/s). r's inners started after it: they are
// scanned in start order from r's place, nearest first, until the start
// difference alone exceeds the best gap found. r's outers finished after
// r's response header (they answered after it): they are among the
// exchanges that finished since then, scanned newest first.
func (ro *roles) observe(r *record, same []timed, recent *recentRing) {
	var outer, inner *record
	var outerGap, innerGap time.Duration
	if !r.votedOuter {
		pos := searchTimeFromEnd(same, r.startNs)
		for _, e := range same[pos:min(len(same), pos+maxVoteScan)] {
			o := e.r
			if inner != nil && time.Duration(subNs(o.startNs, r.startNs)) > innerGap {
				break
			}
			if o.dead || o.votedInner {
				continue
			}
			if g, ok := nestGap(r, o); ok && (inner == nil || g < innerGap) {
				inner, innerGap = o, g
			}
		}
	}
	if !r.votedInner && r.ex.status != 0 {
		recent.scan(r.ex.hdrNs, func(o *record) {
			if o.dead || o.votedOuter || !sameRequest(o, r) {
				return
			}
			if g, ok := nestGap(o, r); ok && (outer == nil || g < outerGap) {
				outer, outerGap = o, g
			}
		})
	}
	if outer != nil {
		ro.vote(outer, r)
	}
	if inner != nil {
		ro.vote(r, inner)
	}
}

// maxVoteScan bounds the exchanges one search of observe looks at.
const maxVoteScan = 64

// sameRequest reports whether two exchanges have the same method and URI.
func sameRequest(x, y *record) bool {
	return x.ex.Request.URI == y.ex.Request.URI && x.ex.Request.Method == y.ex.Request.Method
}

// recentRing holds the latest exchanges the analyzer was given, in the
// order they finished (addedNs order), for observe's search of outers.
type recentRing struct {
	recs [maxVoteScan]*record
	next int // where the next one goes
}

func (q *recentRing) add(r *record) {
	q.recs[q.next] = r
	q.next = (q.next + 1) % len(q.recs)
}

// scan calls f with the records added at or after t, newest first.
func (q *recentRing) scan(t int64, f func(*record)) {
	for i := range len(q.recs) {
		r := q.recs[(q.next-1-i+2*len(q.recs))%len(q.recs)]
		if r == nil || r.addedNs < t {
			return
		}
		f(r)
	}
}

func (ro *roles) vote(front, up *record) {
	front.votedOuter, up.votedInner = true, true
	front.inner = up
	if v := ro.voteFor(front.conn); v.front == 0 {
		ro.fronts++
		v.front++
	} else {
		v.front++
	}
	if v := ro.voteFor(up.conn); v.upstream == 0 {
		ro.upstreams++
		v.upstream++
	} else {
		v.upstream++
	}
	ro.local[up.conn.client.Addr()]++
}

// isFront reports whether server s is a proxy front: named by --front, or
// voted more often front than upstream. When nothing was learned (a
// capture of one side only), every server not named upstream is taken for
// a front, so that its 5xx are still reported, as inferred.
func (ro *roles) isFront(s netip.AddrPort) bool {
	if len(ro.fixedFront) == 0 && ro.fronts > 0 && len(ro.fixedUp) == 0 {
		v := ro.votes[s]
		return v != nil && v.front > v.upstream
	}
	return ro.isFrontVotes(s, nil)
}

// isFrontConn is isFront for cs's server.
func (ro *roles) isFrontConn(cs *connState) bool {
	if len(ro.fixedFront) == 0 && ro.fronts > 0 && len(ro.fixedUp) == 0 {
		v := ro.serverVotes(cs)
		return v.front > v.upstream
	}
	return ro.isFrontVotes(cs.server, cs)
}

// isFrontVotes is isFront; cs, when not nil, is a connection to s.
func (ro *roles) isFrontVotes(s netip.AddrPort, cs *connState) bool {
	if len(ro.fixedFront) > 0 {
		for _, f := range ro.fixedFront {
			if f == s {
				return true
			}
		}
		return false
	}
	if ro.isFixedUpstream(s) {
		return false
	}
	if ro.fronts == 0 {
		// With a TLS front, the readable servers are its upstreams.
		return len(ro.tls) == 0
	}
	v := &noVotes
	if cs != nil {
		v = ro.serverVotes(cs)
	} else if w := ro.votes[s]; w != nil {
		v = w
	}
	return v.front > v.upstream
}

func (ro *roles) isFixedUpstream(s netip.AddrPort) bool {
	for _, e := range ro.fixedUp {
		if e.Match(s) {
			return true
		}
	}
	return false
}

// isUpstreamConn reports whether connection cs can be one of the proxy's
// upstream attempts, for a front connection fc.
func (ro *roles) isUpstreamConn(cs, fc *connState) bool {
	if cs.server == fc.server || ro.fronts+len(ro.fixedFront) > 0 && ro.isFrontConn(cs) {
		return false
	}
	if len(ro.fixedUp) > 0 {
		return ro.isFixedUpstream(cs.server)
	}
	if ro.serverVotes(cs).upstream > 0 {
		return true
	}
	a := cs.client.Addr()
	return ro.local[a] > 0 || a == fc.server.Addr()
}

// upstreamVisible reports whether the capture shows the proxy's upstream
// side at all.
func (ro *roles) upstreamVisible() bool {
	return ro.upstreams > 0
}

// sawTLS notes a connection to server whose client spoke TLS.
func (ro *roles) sawTLS(server netip.AddrPort) {
	ro.tls[server] = true
	ro.tlsHost[server.Addr()] = true
}

// sawRequest notes an HTTP request sent from client.
func (ro *roles) sawRequest(client netip.AddrPort) {
	if !ro.sameHost && ro.tlsHost[client.Addr()] {
		ro.sameHost = true
	}
}

// frontHidden reports whether the proxy's front is not readable: TLS
// connections were seen and no HTTP front was named or learned. The
// upstream side is then all the capture can decode, and incidents are
// inferred from it.
func (ro *roles) frontHidden() bool {
	return len(ro.tls) > 0 && len(ro.fixedFront) == 0 && ro.fronts == 0
}

// inferredUpstream reports whether a connection from client to server is
// one of the proxy's upstream connections when the front is hidden (TLS).
// Upstream connections are those carrying HTTP requests from a host that
// also receives the TLS connections (proxy and front on one address); when
// no such host sends HTTP (the proxy reaches its backends from another
// interface), every HTTP server is taken for an upstream, since only one
// side of the proxy speaks plain HTTP. --upstream overrides both.
func (ro *roles) inferredUpstream(client, server netip.AddrPort) bool {
	if !ro.frontHidden() || ro.tls[server] {
		return false
	}
	if len(ro.fixedUp) > 0 {
		return ro.isFixedUpstream(server)
	}
	if ro.sameHost {
		return ro.tlsHost[client.Addr()]
	}
	return true
}
