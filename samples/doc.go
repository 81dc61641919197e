// Package samples holds why502's reference captures and the code that keeps
// them honest.
//
// Each sample directory holds one or two captures of nginx in front of a
// misbehaving backend (samples/backend), the nginx access.log and error.log
// written during the same run, the driver's output, and a meta file saying
// how the capture was taken. make-samples.sh regenerates them (root, nginx,
// tcpdump, dumpcap).
//
// The Go code here is a small parser for the nginx logs of those runs
// (ErrorLine, AccessLine) and a ground-truth test: what nginx logged as
// refused, prematurely closed, reset or timed out must be visible, with the
// same counts, in the TCP connections that the capture and flows packages
// reconstruct from the capture. The logs are the truth; the test holds no
// hand-written numbers.
//
// It is not a general nginx log parser: it knows the error.log line layout
// and the access log format of nginx.conf.in, nothing else.
package samples
