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

// AccessFormat is the log_format of nginx.conf.in that ParseAccessLine reads.
const AccessFormat = `$msec $remote_addr:$remote_port $connection $connection_requests ` +
	`"$request" $status $body_bytes_sent "$upstream_addr" "$upstream_status" ` +
	`"$upstream_connect_time" "$upstream_response_time" $request_time`

// AccessLine is one access.log line in AccessFormat.
type AccessLine struct {
	Time         time.Time      // $msec: when the request finished, millisecond precision
	Client       netip.AddrPort // $remote_addr:$remote_port
	Conn         int64          // $connection
	ConnRequests int            // $connection_requests: 1 on a fresh client connection
	Request      string
	Status       int
	BodyBytes    int64
	RequestTime  time.Duration
	// Tries are nginx's upstream attempts, in order; the last one produced
	// the answer, earlier ones were retried (proxy_next_upstream).
	Tries []UpstreamTry
}

// UpstreamTry is one upstream attempt of a request.
type UpstreamTry struct {
	Addr            string // as logged: ip:port, a unix socket, or an upstream group name
	Status          int    // 0 when nginx logged "-" (no response)
	ConnectTime     time.Duration
	Connected       bool // false when $upstream_connect_time was "-": the connect failed
	ResponseTime    time.Duration
	HasResponseTime bool
}

// ParseAccessLine parses one line written with AccessFormat.
func ParseAccessLine(line string) (AccessLine, error) {
	var a AccessLine
	f, err := accessFields(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return a, err
	}
	if len(f) != 12 {
		return a, fmt.Errorf("%d fields, want 12 (format %s)", len(f), AccessFormat)
	}
	ms, err := parseSeconds(f[0])
	if err != nil {
		return a, fmt.Errorf("$msec: %w", err)
	}
	a.Time = time.Unix(0, 0).Add(ms).UTC()
	if a.Client, err = parseRemote(f[1]); err != nil {
		return a, fmt.Errorf("$remote_addr:$remote_port: %w", err)
	}
	if a.Conn, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return a, fmt.Errorf("$connection: %w", err)
	}
	if a.ConnRequests, err = strconv.Atoi(f[3]); err != nil {
		return a, fmt.Errorf("$connection_requests: %w", err)
	}
	a.Request = f[4]
	if a.Status, err = strconv.Atoi(f[5]); err != nil {
		return a, fmt.Errorf("$status: %w", err)
	}
	if a.BodyBytes, err = strconv.ParseInt(f[6], 10, 64); err != nil {
		return a, fmt.Errorf("$body_bytes_sent: %w", err)
	}
	if a.RequestTime, err = parseSeconds(f[11]); err != nil {
		return a, fmt.Errorf("$request_time: %w", err)
	}
	if a.Tries, err = parseTries(f[7], f[8], f[9], f[10]); err != nil {
		return a, err
	}
	return a, nil
}

// accessFields splits on spaces, keeping "quoted fields" whole (nginx
// escapes a quote inside a variable as \x22, so a quote always ends one).
func accessFields(s string) ([]string, error) {
	var out []string
	for s != "" {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted field %q", s)
			}
			out = append(out, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}

// parseRemote reads "$remote_addr:$remote_port"; an IPv6 address is not
// bracketed there ("::1:54321"), so the port is after the last colon.
func parseRemote(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	ip, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port: %w", err)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// parseSeconds reads nginx's "seconds.milliseconds" values.
func parseSeconds(s string) (time.Duration, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	d := time.Duration(n) * time.Second
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return 0, err
		}
		for i := len(frac); i < 9; i++ {
			f *= 10
		}
		d += time.Duration(f)
	}
	return d, nil
}

// splitTries splits an $upstream_* value: attempts are separated by ", ",
// and " : " separates groups after an internal redirect.
func splitTries(s string) []string {
	if s == "" {
		return nil
	}
	return strings.FieldsFunc(strings.ReplaceAll(s, " : ", ", "), func(r rune) bool { return r == ',' || r == ' ' })
}

func parseTries(addrs, statuses, connects, responses string) ([]UpstreamTry, error) {
	if addrs == "-" || addrs == "" {
		return nil, nil // no upstream involved (answered by nginx itself)
	}
	as := splitTries(addrs)
	st, ct, rt := splitTries(statuses), splitTries(connects), splitTries(responses)
	if len(st) != len(as) || len(ct) != len(as) || len(rt) != len(as) {
		return nil, fmt.Errorf("upstream fields disagree on the number of tries: %q %q %q %q", addrs, statuses, connects, responses)
	}
	tries := make([]UpstreamTry, len(as))
	for i, a := range as {
		t := UpstreamTry{Addr: a}
		if st[i] != "-" {
			n, err := strconv.Atoi(st[i])
			if err != nil {
				return nil, fmt.Errorf("$upstream_status: %w", err)
			}
			t.Status = n
		}
		if ct[i] != "-" {
			d, err := parseSeconds(ct[i])
			if err != nil {
				return nil, fmt.Errorf("$upstream_connect_time: %w", err)
			}
			t.ConnectTime, t.Connected = d, true
		}
		if rt[i] != "-" {
			d, err := parseSeconds(rt[i])
			if err != nil {
				return nil, fmt.Errorf("$upstream_response_time: %w", err)
			}
			t.ResponseTime, t.HasResponseTime = d, true
		}
		tries[i] = t
	}
	return tries, nil
}

// ParseAccessLog parses every line of an access.log; the error names the line.
func ParseAccessLog(r io.Reader) ([]AccessLine, error) {
	var out []AccessLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		a, err := ParseAccessLine(sc.Text())
		if err != nil {
			return out, fmt.Errorf("access.log line %d: %w", n, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("access.log: %w", err)
	}
	return out, nil
}
