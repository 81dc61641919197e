package httpmatch

import (
	"bytes"
	"strconv"

	"why502/flows"
)

// verdict is what a scanner says of the bytes it was given: a complete valid
// start line, a valid beginning of one, or bytes that cannot begin one.
type verdict uint8

const (
	vMore verdict = iota
	vOK
	vBad
)

// startLine holds what a scanner read of b, as far as it got: its parts
// as offsets in b, not slices of it, so that it is returned in registers
// rather than copied (the copies took a third of a scan's time) and does
// not make b escape.
type startLine struct {
	methodEnd              int // method: b[:methodEnd], if not 0
	targetStart, targetEnd int // request-target, if targetEnd is not 0
	reasonStart, reasonEnd int // reason phrase
	status                 int
	end                    int // after the line's LF, with verdict vOK
	proto                  Proto
}

const (
	maxMethod = 20   // longest method token accepted at a message start
	maxURI    = 2048 // request-target bytes kept
	maxHost   = 255
	maxReason = 64
	maxServer = 64
)

// scanStart scans b (a start line, or the first bytes of one) for the
// direction's kind of message.
func scanStart(dir flows.Dir, b []byte) (startLine, verdict) {
	if dir == flows.ClientToServer {
		return scanRequestLine(b)
	}
	return scanResponseLine(b)
}

// scanVersion scans "HTTP/1.x" at b[i:], returning the index after it.
// Only major version 1 is accepted: HTTP/2 has no text start line.
func scanVersion(b []byte, i int, sl *startLine) (int, verdict) {
	const pre = "HTTP/1."
	if len(b)-i > len(pre) && string(b[i:i+len(pre)]) == pre && isDigit(b[i+len(pre)]) {
		// The common case, in one comparison the compiler makes inline.
		sl.proto = Proto(10 + b[i+len(pre)] - '0')
		return i + len(pre) + 1, vOK
	}
	for k := 0; k < len(pre); k, i = k+1, i+1 {
		if i == len(b) {
			return i, vMore
		}
		if b[i] != pre[k] {
			return i, vBad
		}
	}
	if i == len(b) {
		return i, vMore
	}
	if !isDigit(b[i]) {
		return i, vBad
	}
	sl.proto = Proto(10 + b[i] - '0')
	return i + 1, vOK
}

// scanEOL accepts CRLF or a bare LF (which RFC 9112 section 2.2 lets a
// recipient accept) at b[i:], and returns the index after it.
func scanEOL(b []byte, i int) (int, verdict) {
	switch {
	case i == len(b):
		return i, vMore
	case b[i] == '\n':
		return i + 1, vOK
	case b[i] != '\r':
		return i, vBad
	case i+1 == len(b):
		return i, vMore
	case b[i+1] == '\n':
		return i + 2, vOK
	}
	return i, vBad
}

// scanRequestLine: method SP request-target SP HTTP-version CRLF.
func scanRequestLine(b []byte) (sl startLine, v verdict) {
	i := 0
	for i < len(b) && i <= maxMethod && isTchar(b[i]) {
		i++
	}
	if i > maxMethod {
		return sl, vBad
	}
	if i == len(b) {
		return sl, vMore
	}
	if i == 0 || b[i] != ' ' {
		return sl, vBad
	}
	sl.methodEnd = i
	i++
	ts := i
	for i < len(b) && isTargetChar(b[i]) {
		i++
	}
	if i == len(b) {
		return sl, vMore
	}
	if i == ts || b[i] != ' ' {
		return sl, vBad
	}
	sl.targetStart, sl.targetEnd = ts, i
	if i, v = scanVersion(b, i+1, &sl); v != vOK {
		return sl, v
	}
	sl.end, v = scanEOL(b, i)
	return sl, v
}

// scanResponseLine: HTTP-version SP 3DIGIT [SP reason-phrase] CRLF.
// A missing reason phrase is accepted: some servers send "HTTP/1.1 200\r\n".
func scanResponseLine(b []byte) (sl startLine, v verdict) {
	i, v := scanVersion(b, 0, &sl)
	if v != vOK {
		return sl, v
	}
	if i == len(b) {
		return sl, vMore
	}
	if b[i] != ' ' {
		return sl, vBad
	}
	i++
	status := 0
	for k := 0; k < 3; k, i = k+1, i+1 {
		if i == len(b) {
			return sl, vMore
		}
		if !isDigit(b[i]) {
			return sl, vBad
		}
		status = status*10 + int(b[i]-'0')
	}
	if status < 100 {
		return sl, vBad
	}
	sl.status = status
	if i == len(b) {
		return sl, vMore
	}
	if b[i] != ' ' {
		sl.end, v = scanEOL(b, i)
		return sl, v
	}
	i++
	rs := i
	for ; i < len(b); i++ {
		c := b[i]
		if c == '\r' || c == '\n' {
			if sl.end, v = scanEOL(b, i); v == vOK {
				sl.reasonStart, sl.reasonEnd = rs, i
			}
			return sl, v
		}
		if (c < ' ' && c != '\t') || c == 0x7f {
			return sl, vBad
		}
	}
	return sl, vMore
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tchar per RFC 9110 section 5.6.2.
var tchars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isTchar(c byte) bool { return tchars[c] }

// isTargetChar accepts any visible byte, and obs-text: the parser is a
// witness, not a gatekeeper, and proxies pass what they pass.
func isTargetChar(c byte) bool { return c > ' ' && c != 0x7f }

// knownMethods are the methods resynchronization looks for: a known token
// is what makes bytes in the middle of a stream a plausible request start.
var knownMethods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
	"TRACE", "PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PURGE"}

var methodFirst = func() (t [256]bool) {
	for _, m := range knownMethods {
		t[m[0]] = true
	}
	return t
}()

// methodString returns known methods without allocating.
func methodString(b []byte) string {
	for _, m := range knownMethods {
		if string(b) == m {
			return m
		}
	}
	return string(b)
}

// reasonString returns common reason phrases without allocating.
func reasonString(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "OK":
		return "OK"
	case "Continue":
		return "Continue"
	case "Early Hints":
		return "Early Hints"
	case "Created":
		return "Created"
	case "No Content":
		return "No Content"
	case "Moved Permanently":
		return "Moved Permanently"
	case "Found":
		return "Found"
	case "Not Modified":
		return "Not Modified"
	case "Bad Request":
		return "Bad Request"
	case "Unauthorized":
		return "Unauthorized"
	case "Forbidden":
		return "Forbidden"
	case "Not Found":
		return "Not Found"
	case "Internal Server Error":
		return "Internal Server Error"
	case "Bad Gateway":
		return "Bad Gateway"
	case "Service Unavailable":
		return "Service Unavailable"
	case "Gateway Timeout":
		return "Gateway Timeout"
	}
	return string(b[:min(len(b), maxReason)])
}

// keep returns b as a string of at most limit bytes, reusing *last when
// equal: requests on one keep-alive connection often repeat their Host and
// (health checks, polling) their URI, and this spares an allocation each.
func keep(last *string, b []byte, limit int) string {
	b = b[:min(len(b), limit)]
	if string(b) != *last {
		*last = string(b)
	}
	return *last
}

// quotePreview quotes the first bytes of something that is not HTTP so
// that a report can print them safely.
func quotePreview(b []byte) string {
	return strconv.QuoteToASCII(string(b[:min(len(b), prefixLen)]))
}

// Resynchronization signatures: how many bytes decide that a position in
// the stream is a plausible message start.
const sigMax = 13 // len("HTTP/1.1 200 ")

type sigVerdict uint8

const (
	sigMore sigVerdict = iota
	sigMatch
	sigNo
)

// signature says whether b begins a plausible message start: for a
// response "HTTP/1.x NNN" then SP or end of line; for a request a known
// method, SP and the first byte of a request-target. The whole start line
// is checked later, when it is complete.
func signature(dir flows.Dir, b []byte) sigVerdict {
	if dir == flows.ServerToClient {
		b = b[:min(len(b), sigMax)]
		_, v := scanResponseLine(b)
		switch {
		case v == vBad:
			return sigNo
		case v == vOK || len(b) == sigMax:
			return sigMatch
		}
		return sigMore
	}
	for i := 0; i < len(b) && i <= maxMethod; i++ {
		if b[i] != ' ' {
			continue
		}
		if !isKnownMethod(b[:i]) {
			return sigNo
		}
		switch {
		case i+1 == len(b):
			return sigMore
		case isTargetChar(b[i+1]):
			return sigMatch
		}
		return sigNo
	}
	for _, m := range knownMethods {
		if len(b) <= len(m) && string(b) == m[:len(b)] {
			return sigMore
		}
	}
	return sigNo
}

func isKnownMethod(b []byte) bool {
	for _, m := range knownMethods {
		if string(b) == m {
			return true
		}
	}
	return false
}

// candidate returns the index of the first byte in b that could begin a
// message in the direction, or -1.
func candidate(dir flows.Dir, b []byte) int {
	if dir == flows.ServerToClient {
		return bytes.IndexByte(b, 'H')
	}
	for i, c := range b {
		if methodFirst[c] {
			return i
		}
	}
	return -1
}
