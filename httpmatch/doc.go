// Package httpmatch finds the HTTP/1.x exchanges on reassembled TCP
// connections and ties them together: each request with its response on one
// connection, each 5xx a proxy sent on its front side with what the backend
// did on the upstream side, and a cause for it.
//
// This part is the parser. A ConnParser takes the in-order bytes and gaps of
// both directions of one connection (as package flows delivers them) and
// emits Exchange records, in order, each a request paired with its response,
// with the frames where they started and ended and flags for what the
// capture does not show: no response before the connection ended, a
// response cut mid-body, a header lost in a gap, bytes that are not HTTP.
// Framing follows RFC 9112 (Content-Length, chunked, read-until-close, HEAD,
// 1xx, 204, 304, CONNECT). Bodies are counted, never buffered; header
// blocks are buffered up to a bound. After a gap or garbage the parser
// scans for the next plausible message start instead of giving up on the
// connection, because captures lose packets and proxies' upstream
// connections are long-lived.
//
// It does not decode bodies, HTTP/2 or TLS.
package httpmatch
