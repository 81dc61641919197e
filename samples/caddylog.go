package samples

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// CaddyEntry says which of Caddy's JSON log lines a CaddyLine is.
type CaddyEntry uint8

const (
	CaddyOther     CaddyEntry = iota // startup, shutdown and other messages
	CaddyAccess                      // "handled request" (logger http.log.access...): one per request
	CaddyError                       // logger http.log.error...: a request that failed, with the status Caddy sent
	CaddyRoundTrip                   // "upstream roundtrip" (http.handlers.reverse_proxy, DEBUG): one per attempt
	CaddySelected                    // "selected upstream" (DEBUG): the dial address chosen for an attempt
)

var caddyEntryNames = [...]string{"other", "access", "error", "roundtrip", "selected"}

func (e CaddyEntry) String() string {
	if int(e) < len(caddyEntryNames) {
		return caddyEntryNames[e]
	}
	return "CaddyEntry(" + strconv.Itoa(int(e)) + ")"
}

// CaddyLine is one line of Caddy's JSON logs (access.log and caddy.log of
// the caddy sample, see Caddyfile.in).
type CaddyLine struct {
	Time   time.Time // ts, Unix seconds as a float (microsecond precision kept)
	Level  string
	Logger string
	Msg    string
	Entry  CaddyEntry

	// The request, when the line is about one.
	Method string
	URI    string
	Host   string
	Client netip.AddrPort // request.remote_ip:remote_port

	Status   int           // access: status sent; error: status sent; roundtrip: upstream's status (0 when it failed)
	Duration time.Duration // access, error, roundtrip
	// Upstream is the backend address as Caddy logged it (roundtrip:
	// "upstream"; selected: "dial"); UpstreamAddr the same when it is an
	// ip:port.
	Upstream     string
	UpstreamAddr netip.AddrPort
	// Err is Go's error text: "error" of a failed roundtrip, the msg of an
	// error line. Kind classifies it in nginx's terms.
	Err  string
	Kind ErrorKind
}

// caddyJSON is the subset of Caddy's log fields the samples use.
type caddyJSON struct {
	Level    string  `json:"level"`
	TS       float64 `json:"ts"`
	Logger   string  `json:"logger"`
	Msg      string  `json:"msg"`
	Status   int     `json:"status"`
	Duration float64 `json:"duration"`
	Upstream string  `json:"upstream"`
	Dial     string  `json:"dial"`
	Error    string  `json:"error"`
	Request  *struct {
		RemoteIP   string `json:"remote_ip"`
		RemotePort string `json:"remote_port"`
		Method     string `json:"method"`
		Host       string `json:"host"`
		URI        string `json:"uri"`
	} `json:"request"`
}

// ParseCaddyLine parses one JSON log line.
func ParseCaddyLine(line string) (CaddyLine, error) {
	var c CaddyLine
	var j caddyJSON
	if err := json.Unmarshal([]byte(line), &j); err != nil {
		return c, fmt.Errorf("not a JSON log line: %w", err)
	}
	if math.IsNaN(j.TS) || math.IsInf(j.TS, 0) || j.TS < 0 || j.TS > 1e11 {
		return c, fmt.Errorf("ts %v out of range", j.TS)
	}
	sec, frac := math.Modf(j.TS)
	c.Time = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
	c.Level, c.Logger, c.Msg = j.Level, j.Logger, j.Msg
	c.Status = j.Status
	c.Duration = time.Duration(j.Duration * float64(time.Second))
	if r := j.Request; r != nil {
		c.Method, c.URI, c.Host = r.Method, r.URI, r.Host
		if ip, err := netip.ParseAddr(r.RemoteIP); err == nil {
			if p, err := strconv.ParseUint(r.RemotePort, 10, 16); err == nil {
				c.Client = netip.AddrPortFrom(ip, uint16(p))
			}
		}
	}
	switch {
	case strings.HasPrefix(c.Logger, "http.log.access"):
		c.Entry = CaddyAccess
	case strings.HasPrefix(c.Logger, "http.log.error"):
		c.Entry = CaddyError
		c.Err = c.Msg
	case c.Logger == "http.handlers.reverse_proxy" && c.Msg == "upstream roundtrip":
		c.Entry = CaddyRoundTrip
		c.Upstream, c.Err = j.Upstream, j.Error
	case c.Logger == "http.handlers.reverse_proxy" && c.Msg == "selected upstream":
		c.Entry = CaddySelected
		c.Upstream = j.Dial
	}
	if c.Upstream != "" {
		c.UpstreamAddr = dialAddr(c.Upstream)
	}
	if c.Err != "" {
		c.Kind = classifyGoError(c.Err)
	}
	return c, nil
}

// dialAddr reads a Caddy dial address ("127.0.0.1:8081", "[::1]:8081").
func dialAddr(s string) netip.AddrPort {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, uint16(p))
}

// classifyGoError maps the error text of Go's HTTP transport, as Caddy logs
// it, to the nginx kind for the same wire event (CAUSES.md):
//
//	dial tcp A: connect: connection refused                  refused
//	dial tcp A: connect: no route to host / network is unreachable  unreachable
//	dial tcp A: i/o timeout                                  connect timeout
//	read tcp L->A: read: connection reset by peer            reset
//	EOF, unexpected EOF                                      prematurely closed (FIN before a response)
//	net/http: timeout awaiting response headers              read timeout
//	net/http: HTTP/1.x transport connection broken: malformed HTTP response ...   no valid header
//	malformed MIME header ...                                invalid header
//	no upstreams available                                   no live upstreams
func classifyGoError(s string) ErrorKind {
	dial := strings.HasPrefix(s, "dial ")
	switch {
	case strings.Contains(s, "connection refused"):
		return KindRefused
	case strings.Contains(s, "no route to host"), strings.Contains(s, "network is unreachable"):
		return KindUnreachable
	case dial && (strings.Contains(s, "i/o timeout") || strings.Contains(s, "timeout")):
		return KindConnectTimeout
	case strings.Contains(s, "connection reset by peer"):
		return KindReset
	case s == "EOF", s == "unexpected EOF", strings.HasSuffix(s, ": EOF"), strings.HasSuffix(s, ": unexpected EOF"):
		return KindPrematurelyClosed
	case strings.Contains(s, "timeout awaiting response headers"):
		return KindReadTimeout
	case strings.Contains(s, "malformed HTTP response"), strings.Contains(s, "malformed HTTP status code"),
		strings.Contains(s, "malformed HTTP version"):
		return KindNoValidHeader
	case strings.Contains(s, "malformed MIME header"), strings.Contains(s, "invalid header"):
		return KindInvalidHeader
	case strings.Contains(s, "no upstreams available"):
		return KindNoLiveUpstreams
	}
	return KindOther
}

// ParseCaddyLog parses every line of a Caddy JSON log; the error names the line.
func ParseCaddyLog(r io.Reader) ([]CaddyLine, error) {
	var out []CaddyLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		c, err := ParseCaddyLine(sc.Text())
		if err != nil {
			return out, fmt.Errorf("caddy log line %d: %w", n, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("caddy log: %w", err)
	}
	return out, nil
}
