// Package findings turns the incidents of httpmatch and every TCP
// connection of flows (including those that produced no 5xx) into the few
// conclusions a postmortem needs: a backend that was down for a window, a
// server write timeout shorter than its handlers, a backend idle timeout
// shorter than the proxy's keep-alive (races), a stale upstream address,
// hidden retries, and what the capture itself could not decide.
//
// A Collector streams: it keeps per-upstream aggregates, a bounded reorder
// buffer of recent connect outcomes and small bounded samples, so memory
// follows the number of upstreams and the concurrent activity, not the
// size of the input. It is not a reporter: package report formats its
// Findings.
package findings
