package httpmatch

import (
	"fmt"
	"strconv"
	"strings"

	"why502/flows"
)

// Proto is an HTTP/1.x version as 10*major+minor: 10 for HTTP/1.0, 11 for
// HTTP/1.1, 0 when the start line did not say.
type Proto uint8

func (p Proto) String() string {
	switch p {
	case 0:
		return ""
	case 10:
		return "HTTP/1.0"
	case 11:
		return "HTTP/1.1"
	}
	return "HTTP/" + strconv.Itoa(int(p/10)) + "." + strconv.Itoa(int(p%10))
}

// BodyKind is how a message's body is delimited (RFC 9112 section 6).
type BodyKind uint8

// Body framings.
const (
	NoBody      BodyKind = iota // none: a request without length, HEAD, 1xx, 204, 304
	LengthBody                  // Content-Length
	ChunkedBody                 // Transfer-Encoding ending in chunked
	CloseBody                   // a response read until the connection closes
	TunnelBody                  // CONNECT 2xx or 101: what follows is not HTTP
)

var bodyNames = [...]string{"none", "length", "chunked", "until-close", "tunnel"}

func (k BodyKind) String() string {
	if int(k) < len(bodyNames) {
		return bodyNames[k]
	}
	return "body(" + strconv.Itoa(int(k)) + ")"
}

// Flags say what the capture does not show of a message, or what was wrong with it.
type Flags uint16

// Message flags.
const (
	// Missing: not seen at all. On a response: the connection ended (or the
	// parser was closed) before any byte of it. On a request: a response came
	// with no request before it (the request was not captured).
	Missing Flags = 1 << iota
	// Incomplete: started, but the connection ended before its end.
	Incomplete
	// Partial: the header block was cut by a gap (lost packets, or snaplen
	// with Snaplen also set); the start line was captured, or as much of it
	// as the fields show. Framing was lost; the parser resynchronized after it.
	Partial
	// Invalid: the bytes where a message should start are not HTTP/1.x;
	// Preview holds the first of them.
	Invalid
	// BadFraming: invalid Content-Length (negative, not a number,
	// conflicting values), invalid chunked encoding or a request
	// Transfer-Encoding that does not end in chunked. The length was not
	// trusted; the parser resynchronized after the header.
	BadFraming
	// TooLarge: the start line, header block or trailer section was longer
	// than ParserOptions.MaxHeaderBytes.
	TooLarge
	// BodyGap: body bytes are missing from the capture; framing continued by
	// counting them (BodyBytes includes them).
	BodyGap
	// LostEnd: a gap hid where the body ended (in a chunk header, or past the
	// end of the body); the message is closed where the capture lost it.
	LostEnd
	// Snaplen: the gap behind Partial, BodyGap or LostEnd was the capture's
	// snaplen, not lost packets: the bytes were on the wire.
	Snaplen
	// Resynced: bytes that could not be parsed came before this message in
	// its direction; Skipped counts them.
	Resynced
	// BadHeader: a header field name holds a byte that is not a token
	// character (a NUL, a space), or a value holds a NUL. Framing went on;
	// a proxy rejects such a response ("upstream sent invalid header").
	BadHeader
)

// startCut marks, with Partial, a message whose start line itself a gap
// cut (the status may be wrong); without it a Partial message's start line
// was whole. Internal: String does not name it.
const startCut Flags = 1 << 15

var flagNames = [...]string{"missing", "incomplete", "partial", "invalid", "bad-framing",
	"too-large", "body-gap", "lost-end", "snaplen", "resynced", "bad-header"}

func (f Flags) String() string {
	var b strings.Builder
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(name)
		}
	}
	return b.String()
}

// Message is what requests and responses have in common.
type Message struct {
	Proto Proto
	// Start is the frame of the message's first byte (for a response, the
	// first byte of its first 1xx if there was one), HeaderEnd of the last
	// byte of its (final) header block, End of its last byte, body included
	// (the last captured byte for an incomplete message).
	Start, HeaderEnd, End flows.FrameRef
	Body                  BodyKind
	ContentLength         int64 // -1 when absent or invalid
	BodyBytes             int64 // body bytes on the wire, those lost in gaps included (chunk data only, for chunked)
	Close                 bool  // Connection: close
	KeepAlive             bool  // Connection: keep-alive
	Flags                 Flags
	Skipped               int64  // unparseable bytes skipped before this message in its direction
	Preview               string // Invalid: the first bytes, Go-quoted, at most 64 of them
}

// closes reports whether the connection cannot carry another exchange
// after this message (RFC 9112 section 9.3).
func (m *Message) closes() bool {
	return m.Close || (m.Proto == 10 && !m.KeepAlive) || m.Body == CloseBody
}

// Request is the client's half of an exchange.
type Request struct {
	Message
	Method    string
	URI       string // request-target as sent, at most 2048 bytes kept
	Host      string // Host header, at most 255 bytes kept
	Expect100 bool   // Expect: 100-continue
}

// Response is the server's half of an exchange.
type Response struct {
	Message
	Status        int    // final status; 0 when none was captured
	Reason        string // reason phrase, at most 64 bytes kept
	Server        string // Server header (names the proxy software), at most 64 bytes kept
	Interim       int    // 1xx responses before the final one
	InterimStatus int    // the first of them
}

// Exchange is one request and its response on a connection.
type Exchange struct {
	// Index is the exchange's position on its connection, 0 for the first:
	// above 0, the connection was a reused keep-alive one. Responses with no
	// captured request take an index too.
	Index    int
	Request  Request
	Response Response
}

// Persistent reports whether the connection could carry another exchange
// after this one: neither side asked to close and the response was not
// delimited by the close.
func (e *Exchange) Persistent() bool {
	return !e.Request.closes() && !e.Response.closes()
}

// String is a one-line summary, for logs and tests.
func (e Exchange) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d ", e.Index)
	q := &e.Request
	if q.Flags&Missing != 0 {
		b.WriteString("(no request)")
	} else {
		fmt.Fprintf(&b, "%s %s", orDash(q.Method), orDash(q.URI))
		if q.Flags != 0 {
			fmt.Fprintf(&b, " [%s]", q.Flags)
		}
	}
	b.WriteString(" -> ")
	r := &e.Response
	switch {
	case r.Flags&Missing != 0:
		b.WriteString("(no response)")
	case r.Flags&Invalid != 0 && r.Status == 0:
		fmt.Fprintf(&b, "not HTTP: %s", r.Preview)
	default:
		fmt.Fprintf(&b, "%d", r.Status)
		if r.Reason != "" {
			fmt.Fprintf(&b, " %s", r.Reason)
		}
		if r.Interim > 0 {
			fmt.Fprintf(&b, " after %d interim (first %d)", r.Interim, r.InterimStatus)
		}
		fmt.Fprintf(&b, ", %s body %d bytes", r.Body, r.BodyBytes)
	}
	if r.Flags&^Missing != 0 {
		fmt.Fprintf(&b, " [%s]", r.Flags)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
