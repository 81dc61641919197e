package httpmatch

import (
	"fmt"
	"net/netip"
	"time"

	"why502/flows"
)

// Cause is why the proxy answered 5xx: what its exchange with the backend
// did on the wire. The names and their wire signatures are those of
// shared/CAUSES.md; an Attempt's Outcome uses the same names, plus
// OutcomeOK for an attempt that got a usable answer.
type Cause string

// The cause vocabulary.
const (
	ConnectRefused  Cause = "connect_refused"
	ConnectTimeout  Cause = "connect_timeout"
	UpstreamReset   Cause = "upstream_reset"
	UpstreamClosed  Cause = "upstream_closed"
	KeepaliveRace   Cause = "keepalive_race"
	UpstreamTimeout Cause = "upstream_timeout"
	InvalidResponse Cause = "invalid_response"
	NoUpstream      Cause = "no_upstream"
	BackendStatus   Cause = "backend_status"
	Unknown         Cause = "unknown"

	// OutcomeOK is an attempt's outcome when the backend answered with a
	// status below 500.
	OutcomeOK Cause = "ok"
)

// Failed reports whether an attempt with this outcome failed (the proxy
// got no usable answer from it).
func (c Cause) Failed() bool { return c != OutcomeOK && c != BackendStatus && c != "" }

// nginx's words for each cause (error.log), quoted in explanations so that
// a user can grep the proxy's logs for them.
var nginxWords = map[Cause]string{
	ConnectRefused:  "connect() failed (111: Connection refused) while connecting to upstream",
	ConnectTimeout:  "upstream timed out (110: Connection timed out) while connecting to upstream",
	UpstreamReset:   "recv() failed (104: Connection reset by peer) while reading response header from upstream",
	UpstreamClosed:  "upstream prematurely closed connection while reading response header from upstream",
	UpstreamTimeout: "upstream timed out (110: Connection timed out) while reading response header from upstream",
	InvalidResponse: "upstream sent invalid header' or 'upstream sent no valid HTTP/1.0 header while reading response header from upstream",
	NoUpstream:      "no live upstreams while connecting to upstream",
	// (101: Network is unreachable) when no route exists at all.
	ConnectUnreachable: "connect() failed (113: No route to host) while connecting to upstream",
}

// ms formats a duration in milliseconds, or seconds from one second up.
func ms(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// explainAttempt says in one clause what happened on one attempt.
func explainAttempt(a *Attempt) string {
	up := a.Upstream
	switch a.Outcome {
	case ConnectRefused:
		return fmt.Sprintf("the connect to %s was refused (SYN frame %d answered by RST, frame %d): nothing listens there",
			up, a.syn.Frame, a.close.Frame)
	case ConnectTimeout:
		return fmt.Sprintf("the SYNs to %s were never answered (%d SYN(s) over %s from frame %d): host down, blackholed or filtered",
			up, a.syns, ms(a.synSpan), a.syn.Frame)
	case UpstreamReset, UpstreamClosed:
		what, verb := "FIN", "closed"
		if a.closeKind == flows.CloseRST {
			what, verb = "RST", "reset"
		}
		return fmt.Sprintf("the backend %s %s the connection (%s, frame %d) %s after the request (frame %d) without a complete response",
			up, verb, what, a.close.Frame, ms(a.close.Time.Sub(a.request.Time)), a.request.Frame)
	case KeepaliveRace:
		what := "FIN"
		if a.closeKind == flows.CloseRST {
			what = "RST"
		}
		rel := "after"
		d := a.close.Time.Sub(a.request.Time)
		if d < 0 {
			rel = "before"
		}
		return fmt.Sprintf("the proxy reused a connection to %s idle for %s; the backend closed it (%s, frame %d) %s %s the request (frame %d) arrived",
			up, secs(a.Idle), what, a.close.Frame, ms(d), rel, a.request.Frame)
	case UpstreamTimeout:
		return fmt.Sprintf("the backend %s sent nothing for %s after the request (frame %d); the proxy gave up and closed (frame %d)",
			up, ms(a.close.Time.Sub(a.request.Time)), a.request.Frame, a.close.Frame)
	case InvalidResponse:
		return fmt.Sprintf("the backend %s answered with bytes that are not a valid HTTP response (frame %d: %s)",
			up, a.response.Frame, a.preview)
	case BackendStatus:
		return fmt.Sprintf("the backend %s itself answered %d (frame %d) and the proxy relayed it", up, a.Status, a.response.Frame)
	case OutcomeOK:
		return fmt.Sprintf("the backend %s answered %d (frame %d)", up, a.Status, a.response.Frame)
	}
	return fmt.Sprintf("the exchange with %s did not finish in the capture", up)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// inferFromFront guesses the cause of a 5xx when no attempt is visible
// because the proxy's upstream side is not in the capture.
func inferFromFront(status int, waited time.Duration, proxy netip.AddrPort) (Cause, string) {
	decide := fmt.Sprintf("a capture of the proxy's upstream side (tcpdump on the interface %s uses to reach its backends) would decide it", proxy.Addr())
	switch status {
	case 504:
		return UpstreamTimeout, fmt.Sprintf("the proxy answered 504 %s after the request and no upstream connection is in the capture: "+
			"likely a read timeout ('%s') or a connect timeout; %s", ms(waited), nginxWords[UpstreamTimeout], decide)
	case 503:
		return NoUpstream, fmt.Sprintf("the proxy answered 503 %s after the request and no upstream connection is in the capture: "+
			"likely no backend available; %s", ms(waited), decide)
	}
	// A 502 after the kernel's ARP wait is the one front-only timing that
	// points at a cause (CAUSES.md): the same verdict as with the upstream
	// side visible and empty, only weaker.
	if unreachableWait(status, waited) {
		return ConnectUnreachable, fmt.Sprintf("the proxy answered 502 %s after the request, about the time a kernel waits for an ARP "+
			"(or neighbour discovery) reply before failing a connect: likely an upstream address with no host behind it ('%s'); "+
			"%s, without a filter or with 'arp or tcp' (IPv6: 'icmp6 or tcp')", ms(waited), nginxWords[ConnectUnreachable], decide)
	}
	return Unknown, fmt.Sprintf("the proxy answered %d %s after the request, but its upstream side is not in the capture; %s",
		status, ms(waited), decide)
}
