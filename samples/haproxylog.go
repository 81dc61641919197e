package samples

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// HAProxyFormat is the log-format of haproxy.cfg.in that ParseHAProxyLine reads.
const HAProxyFormat = `%Ts.%ms %ci:%cp %ft %b/%s %si:%sp %bi:%bp %TR/%Tw/%Tc/%Tr/%Ta %ST %B %ts %ac/%fc/%bc/%sc/%rc %{+Q}r`

// HAProxyLine is one HAProxy log line in HAProxyFormat:
//
//	1795697179.298 127.0.0.1:57890 fe refused/gone 127.0.0.1:18099 127.0.0.1:58514
//	0/0/-1/-1/2005 503 217 SC 1/1/0/0/2 "GET /refused/x HTTP/1.1"
type HAProxyLine struct {
	Time     time.Time      // %Ts.%ms: when HAProxy accepted the request's connection (UTC)
	Client   netip.AddrPort // %ci:%cp
	Frontend string         // %ft
	Backend  string         // %b
	Server   string         // %s; "<NOSRV>" when no server was chosen
	// ServerAddr is %si:%sp, the server HAProxy sent the request to (or
	// tried to connect to); invalid when none.
	ServerAddr netip.AddrPort
	// Local is %bi:%bp, HAProxy's end of the last server connection: it
	// names the captured connection; invalid when none.
	Local       netip.AddrPort
	Timers      HAProxyTimers
	Status      int    // %ST, as sent to the client
	Bytes       int64  // %B, bytes sent to the client
	Termination string // %ts, two characters, e.g. "SH", "sH", "SC", "PH", "--"
	Retries     int    // %rc: connection attempts beyond the first
	Request     string // %r, the request line
}

// HAProxyTimers are the %TR/%Tw/%Tc/%Tr/%Ta timers in milliseconds; -1 when
// the phase never completed (e.g. Tc -1: no connection was established).
type HAProxyTimers struct {
	TR, Tw, Tc, Tr, Ta int
}

// ServerAborted reports whether the server ended the session (%ts starts
// with 'S': it closed or reset the connection, refused it, or sent
// something HAProxy could not accept — the second letter says when).
func (h HAProxyLine) ServerAborted() bool { return len(h.Termination) == 2 && h.Termination[0] == 'S' }

// ServerTimeout reports whether HAProxy gave up waiting for the server (%ts
// "sC" connect timeout, "sH" response header timeout, "sD" data).
func (h HAProxyLine) ServerTimeout() bool { return len(h.Termination) == 2 && h.Termination[0] == 's' }

// Phase is the second letter of %ts: 'C' connecting, 'H' waiting for the
// response headers, 'D' data transfer, 'L' last data, 'R' request, '-' done.
func (h HAProxyLine) Phase() byte {
	if len(h.Termination) != 2 {
		return 0
	}
	return h.Termination[1]
}

// ParseHAProxyLine parses one line written with HAProxyFormat.
func ParseHAProxyLine(line string) (HAProxyLine, error) {
	var h HAProxyLine
	f, err := accessFields(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return h, err
	}
	if len(f) != 12 {
		return h, fmt.Errorf("%d fields, want 12 (format %s)", len(f), HAProxyFormat)
	}
	ts, err := parseSeconds(f[0])
	if err != nil {
		return h, fmt.Errorf("%%Ts.%%ms: %w", err)
	}
	h.Time = time.Unix(0, 0).Add(ts).UTC()
	if h.Client, err = parseRemote(f[1]); err != nil {
		return h, fmt.Errorf("%%ci:%%cp: %w", err)
	}
	h.Frontend = f[2]
	var ok bool
	if h.Backend, h.Server, ok = strings.Cut(f[3], "/"); !ok {
		return h, fmt.Errorf("%%b/%%s: no slash in %q", f[3])
	}
	if h.ServerAddr, err = parseOptionalAddr(f[4]); err != nil {
		return h, fmt.Errorf("%%si:%%sp: %w", err)
	}
	if h.Local, err = parseOptionalAddr(f[5]); err != nil {
		return h, fmt.Errorf("%%bi:%%bp: %w", err)
	}
	tm, err := slashInts(f[6], 5)
	if err != nil {
		return h, fmt.Errorf("%%TR/%%Tw/%%Tc/%%Tr/%%Ta: %w", err)
	}
	h.Timers = HAProxyTimers{tm[0], tm[1], tm[2], tm[3], tm[4]}
	if h.Status, err = strconv.Atoi(f[7]); err != nil {
		return h, fmt.Errorf("%%ST: %w", err)
	}
	if h.Bytes, err = strconv.ParseInt(f[8], 10, 64); err != nil {
		return h, fmt.Errorf("%%B: %w", err)
	}
	if len(f[9]) != 2 {
		return h, fmt.Errorf("%%ts: %q is not two characters", f[9])
	}
	h.Termination = f[9]
	cs, err := slashInts(f[10], 5)
	if err != nil {
		return h, fmt.Errorf("%%ac/%%fc/%%bc/%%sc/%%rc: %w", err)
	}
	h.Retries = cs[4]
	h.Request = f[11]
	return h, nil
}

// parseOptionalAddr reads an ip:port HAProxy may log as "-" or "-:-" when
// there is none (IPv6 unbracketed, as in %ci:%cp).
func parseOptionalAddr(s string) (netip.AddrPort, error) {
	if s == "-" || s == "-:-" || s == "" {
		return netip.AddrPort{}, nil
	}
	return parseRemote(s)
}

// slashInts splits "a/b/c" into exactly n integers; a leading '+' (HAProxy
// marks values cut short by a log with "+") is accepted.
func slashInts(s string, n int) ([]int, error) {
	parts := strings.Split(s, "/")
	if len(parts) != n {
		return nil, fmt.Errorf("%q: %d values, want %d", s, len(parts), n)
	}
	out := make([]int, n)
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimPrefix(p, "+"))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out[i] = v
	}
	return out, nil
}

// ParseHAProxyLog parses the request lines of a HAProxy log in
// HAProxyFormat. Lines that do not start with a digit are HAProxy's own
// notices on the same stream ("Proxy fe stopped (cumulated conns: ...)")
// and are skipped; a malformed request line is an error naming the line.
func ParseHAProxyLog(r io.Reader) ([]HAProxyLine, error) {
	var out []HAProxyLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		t := sc.Text()
		if t == "" || t[0] < '0' || t[0] > '9' {
			continue
		}
		h, err := ParseHAProxyLine(t)
		if err != nil {
			return out, fmt.Errorf("haproxy log line %d: %w", n, err)
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("haproxy log: %w", err)
	}
	return out, nil
}
