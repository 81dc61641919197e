package httpmatch

import (
	"net/netip"
	"strings"
)

// ConnectUnreachable is the cause when the upstream address has no host
// behind it: ARP (or neighbour discovery) goes unanswered, no SYN leaves.
const ConnectUnreachable Cause = "connect_unreachable"

// Software is the proxy's implementation, as told by the Server header of
// its own responses; "" when the capture does not tell.
type Software string

// The proxies whose words the explanations quote (shared/CAUSES.md).
const (
	Nginx   Software = "nginx"
	HAProxy Software = "haproxy"
	Caddy   Software = "caddy"
)

// softwareOf reads a Server header: nginx and Caddy name themselves in
// their own responses; HAProxy sends no Server header.
func softwareOf(server string) Software {
	s := strings.ToLower(server)
	switch {
	case strings.HasPrefix(s, "nginx"), strings.HasPrefix(s, "openresty"):
		return Nginx
	case strings.HasPrefix(s, "caddy"):
		return Caddy
	case strings.HasPrefix(s, "haproxy"):
		return HAProxy
	}
	return ""
}

// haproxyWords are HAProxy's termination states (%ts) for each cause.
var haproxyWords = map[Cause]string{
	ConnectRefused:     "SC",
	ConnectUnreachable: "SC",
	ConnectTimeout:     "sC",
	UpstreamReset:      "SH",
	UpstreamClosed:     "SH",
	KeepaliveRace:      "SH",
	UpstreamTimeout:    "sH",
	InvalidResponse:    "PH",
	NoUpstream:         "SC with <NOSRV>",
}

// caddyWords are the Go net/http transport errors Caddy logs for each cause.
var caddyWords = map[Cause]string{
	ConnectRefused:     "dial tcp ...: connect: connection refused",
	ConnectUnreachable: "dial tcp ...: connect: no route to host",
	ConnectTimeout:     "dial tcp ...: i/o timeout",
	UpstreamReset:      "read: connection reset by peer",
	UpstreamClosed:     "EOF",
	KeepaliveRace:      "EOF' or 'read: connection reset by peer",
	UpstreamTimeout:    "net/http: timeout awaiting response headers",
	InvalidResponse:    "net/http: HTTP/1.x transport connection broken: malformed HTTP response",
	NoUpstream:         "no upstreams available",
}

// quoteProxy appends the proxy's own wording for cause c: the words of
// the proxy software when it is known, else those of nginx, HAProxy and
// Caddy, so that a user can grep whichever log they have.
func quoteProxy(s string, c Cause, sw Software) string {
	nw := nginxWords[c]
	if c == KeepaliveRace {
		nw = nginxWords[UpstreamClosed] + "' or '" + nginxWords[UpstreamReset]
	}
	hw, cw := haproxyWords[c], caddyWords[c]
	switch sw {
	case Nginx:
		if nw != "" {
			return s + "; nginx: '" + nw + "'"
		}
	case HAProxy:
		if hw != "" {
			return s + "; HAProxy: termination state " + hw
		}
	case Caddy:
		if cw != "" {
			return s + "; Caddy: '" + cw + "'"
		}
	default:
		if nw != "" {
			return s + "; nginx: '" + nw + "', HAProxy: " + hw + ", Caddy: '" + cw + "'"
		}
	}
	return s
}

// software returns what the front response says of the proxy, or what
// earlier responses of the same front said.
func (a *Analyzer) software(proxy netip.AddrPort, server string) Software {
	if sw := softwareOf(server); sw != "" {
		if a.softwares == nil {
			a.softwares = map[netip.AddrPort]Software{}
		}
		a.softwares[proxy] = sw
		return sw
	}
	return a.softwares[proxy]
}
