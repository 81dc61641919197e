package samples

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrorKind classifies an nginx error.log message about an upstream.
type ErrorKind uint8

// The kinds of upstream failure nginx logs, in its own words (CAUSES.md).
const (
	KindOther             ErrorKind = iota // anything else (notices, client-side messages)
	KindRefused                            // connect() failed (111: Connection refused) while connecting to upstream
	KindUnreachable                        // connect() failed (113: No route to host) / (101: Network is unreachable)
	KindConnectTimeout                     // upstream timed out (110: Connection timed out) while connecting to upstream
	KindPrematurelyClosed                  // upstream prematurely closed connection
	KindReset                              // recv() failed (104: Connection reset by peer)
	KindReadTimeout                        // upstream timed out (110: Connection timed out) while reading ...
	KindNoValidHeader                      // upstream sent no valid HTTP/1.0 header
	KindInvalidHeader                      // upstream sent invalid header
	KindNoLiveUpstreams                    // no live upstreams while connecting to upstream
)

var kindNames = [...]string{
	KindOther:             "other",
	KindRefused:           "refused",
	KindUnreachable:       "unreachable",
	KindConnectTimeout:    "connect_timed_out",
	KindPrematurelyClosed: "prematurely_closed",
	KindReset:             "reset",
	KindReadTimeout:       "timed_out",
	KindNoValidHeader:     "no_valid_header",
	KindInvalidHeader:     "invalid_header",
	KindNoLiveUpstreams:   "no_live_upstreams",
}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// classify finds the kind of an error.log message from nginx's wording.
func classify(msg string) ErrorKind {
	connecting := strings.Contains(msg, "while connecting to upstream")
	switch {
	case strings.Contains(msg, "(111: Connection refused)"):
		return KindRefused
	case strings.Contains(msg, "(113: No route to host)"), strings.Contains(msg, "(101: Network is unreachable)"):
		return KindUnreachable
	case strings.HasPrefix(msg, "upstream timed out") && connecting:
		return KindConnectTimeout
	case strings.HasPrefix(msg, "upstream timed out"):
		return KindReadTimeout
	case strings.HasPrefix(msg, "upstream prematurely closed connection"):
		return KindPrematurelyClosed
	case strings.Contains(msg, "(104: Connection reset by peer)") && strings.Contains(msg, "upstream"):
		return KindReset
	case strings.HasPrefix(msg, "upstream sent no valid HTTP/1.0 header"):
		return KindNoValidHeader
	case strings.HasPrefix(msg, "upstream sent invalid header"):
		return KindInvalidHeader
	case strings.HasPrefix(msg, "no live upstreams"):
		return KindNoLiveUpstreams
	}
	return KindOther
}

// ErrorLine is one line of nginx's error.log:
//
//	2026/11/26 12:16:44 [error] 6419#6419: *1 upstream prematurely closed connection while reading
//	response header from upstream, client: 127.0.0.1, server: , request: "GET /slow HTTP/1.1",
//	upstream: "http://127.0.0.1:18081/slow", host: "127.0.0.1:18080"
type ErrorLine struct {
	// Time is nginx's local time, to the second; it carries no zone (UTC location).
	Time  time.Time
	Level string // debug info notice warn error crit alert emerg
	PID   int
	TID   int
	Conn  int64  // client connection number (*N, nginx's $connection); 0 when absent
	Text  string // the message, without the context fields
	Kind  ErrorKind

	// Context nginx appends to messages about a request; empty when absent.
	Client   string
	Server   string
	Request  string
	Upstream string // as logged, e.g. "http://127.0.0.1:18081/slow"
	Host     string
	// UpstreamAddr is the address in Upstream; invalid when it names no address.
	UpstreamAddr netip.AddrPort
}

// contextKeys are the fields nginx appends to a request's messages, in the
// order it writes them (ngx_http_log_error).
var contextKeys = []string{"client", "server", "request", "subrequest", "upstream", "host", "referrer"}

// ParseErrorLine parses one error.log line.
func ParseErrorLine(line string) (ErrorLine, error) {
	var e ErrorLine
	line = strings.TrimRight(line, "\r\n")
	const stamp = "2006/01/02 15:04:05"
	if len(line) < len(stamp)+3 {
		return e, fmt.Errorf("too short for an error.log line: %q", line)
	}
	t, err := time.Parse(stamp, line[:len(stamp)])
	if err != nil {
		return e, fmt.Errorf("timestamp: %w", err)
	}
	e.Time = t
	rest := line[len(stamp):]
	if !strings.HasPrefix(rest, " [") {
		return e, fmt.Errorf("no [level] after the timestamp: %q", line)
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return e, fmt.Errorf("unterminated [level]: %q", line)
	}
	e.Level = rest[2:end]
	rest = strings.TrimPrefix(rest[end+1:], " ")
	// "PID#TID: "
	colon := strings.Index(rest, ": ")
	hash := strings.IndexByte(rest, '#')
	if colon < 0 || hash < 0 || hash > colon {
		return e, fmt.Errorf("no PID#TID: %q", line)
	}
	if e.PID, err = strconv.Atoi(rest[:hash]); err != nil {
		return e, fmt.Errorf("pid: %w", err)
	}
	if e.TID, err = strconv.Atoi(rest[hash+1 : colon]); err != nil {
		return e, fmt.Errorf("tid: %w", err)
	}
	rest = rest[colon+2:]
	if strings.HasPrefix(rest, "*") {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			sp = len(rest)
		}
		if e.Conn, err = strconv.ParseInt(rest[1:sp], 10, 64); err != nil {
			return e, fmt.Errorf("connection number: %w", err)
		}
		rest = strings.TrimPrefix(rest[sp:], " ")
	}
	ctx := strings.Index(rest, ", client: ")
	if ctx < 0 {
		e.Text = rest
		e.Kind = classify(e.Text)
		return e, nil
	}
	e.Text = rest[:ctx]
	e.Kind = classify(e.Text)
	fields := splitContext(rest[ctx+2:])
	e.Client = fields["client"]
	e.Server = fields["server"]
	e.Request = fields["request"]
	e.Upstream = fields["upstream"]
	e.Host = fields["host"]
	if e.Upstream != "" {
		e.UpstreamAddr = upstreamAddr(e.Upstream)
	}
	return e, nil
}

// splitContext splits `client: X, server: Y, request: "Z", ...` into its
// fields. A value runs to the next known key, so quotes and commas inside a
// request line do not confuse it.
func splitContext(s string) map[string]string {
	m := make(map[string]string, 4)
	type at struct {
		key        string
		start, end int // of the "key: " marker
	}
	var marks []at
	pos := 0
	for _, k := range contextKeys {
		marker := k + ": "
		i := -1
		if pos == 0 && strings.HasPrefix(s, marker) {
			i = 0
		} else if j := strings.Index(s[pos:], ", "+marker); j >= 0 {
			i = pos + j + 2
		}
		if i < 0 {
			continue
		}
		marks = append(marks, at{k, i, i + len(marker)})
		pos = i + len(marker)
	}
	for n, mk := range marks {
		end := len(s)
		if n+1 < len(marks) {
			end = marks[n+1].start - 2 // before ", "
		}
		v := s[mk.end:end]
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		m[mk.key] = v
	}
	return m
}

// upstreamAddr extracts ip:port from an upstream URL as nginx logs it
// ("http://127.0.0.1:8081/x", "http://[::1]:8081/x").
func upstreamAddr(u string) netip.AddrPort {
	p, err := url.Parse(u)
	if err != nil {
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(p.Host)
	if err != nil {
		return netip.AddrPort{}
	}
	return ap
}

// ParseErrorLog parses every line of an error.log; the error names the line.
func ParseErrorLog(r io.Reader) ([]ErrorLine, error) {
	var out []ErrorLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		e, err := ParseErrorLine(sc.Text())
		if err != nil {
			return out, fmt.Errorf("error.log line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("error.log: %w", err)
	}
	return out, nil
}
