// Package samples holds why502's reference captures and the code that keeps
// them honest.
//
// Each sample directory holds one or two captures of a proxy (nginx,
// HAProxy or Caddy) in front of a misbehaving backend (samples/backend),
// the proxy's logs written during the same run (nginx access.log and
// error.log, haproxy.log, Caddy's JSON logs), the driver's output, and a
// meta file saying how the capture was taken. make-samples.sh regenerates
// them (root, nginx, tcpdump, dumpcap, haproxy, caddy, openssl).
//
// The Go code here is a small parser for the nginx logs of those runs
// (ErrorLine, AccessLine) and a ground-truth test: what nginx logged as
// refused, prematurely closed, reset or timed out must be visible, with the
// same counts, in the TCP connections that the capture and flows packages
// reconstruct from the capture. The logs are the truth; the test holds no
// hand-written numbers.
//
// The HAProxy and Caddy samples have their own parsers: HAProxyLine reads
// the log-format of haproxy.cfg.in (termination state, server and local
// addresses, timers), CaddyLine Caddy's JSON log lines, with Go's transport
// errors classified in nginx's terms (ErrorKind).
//
// It is not a general log parser: it knows the error.log line layout, the
// access log format of nginx.conf.in, the HAProxy format of haproxy.cfg.in
// and the fields of Caddy's JSON logs that the samples use, nothing else.
package samples
