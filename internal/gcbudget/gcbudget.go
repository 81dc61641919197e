// Package gcbudget paces Go's garbage collector against a memory budget
// instead of the heap's growth: why502's live heap is the few seconds of
// exchanges waiting for their decision, small next to what it allocates,
// so the default pacing (a collection each time the heap doubles) runs the
// collector several times a second for nothing. Under the budget the
// collector runs only when the heap nears it; should the live heap ever
// reach half the budget (a flood of connections), the default pacing comes
// back for the rest of the process, so that the collector never runs
// back to back against a budget the live data fills.
package gcbudget

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Default is the budget why502 runs with: the heap, the runtime's own
// memory and what was freed but not yet returned to the system. It is
// about three times the live heap at 9k requests/s (15-21 MB on
// make-large's keep-alive capture), so the collector runs once per 30 MB
// or so of allocation, and what the process holds does not depend on the
// capture. On that capture a budget of 56 MiB collects twice and peaks at
// 53 MB; one of 64 MiB also collects twice, and peaks at 61 MB.
const Default = 56 << 20

// liveMetric is the heap the last collection found reachable.
const liveMetric = "/gc/heap/live:bytes"

// Set paces the collector against budget bytes (runtime/debug's memory
// limit, with the proportional pacing off) and reports whether it did. It
// does nothing when GOGC or GOMEMLIMIT is set in the environment: the
// user's setting wins. After each collection, if the live heap is half
// the budget or more, the default pacing (GOGC=100, no limit) is restored
// for good. Call it once, from main: the collector's settings belong to
// the process.
func Set(budget int64) bool {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" || budget <= 0 {
		return false
	}
	debug.SetMemoryLimit(budget)
	debug.SetGCPercent(-1)
	watch(budget / 2)
	return true
}

// watch checks the live heap after each collection, until it reaches
// most: a finalizer runs once per collection that finds its object
// unreachable, and arms the next.
func watch(most int64) {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) {
		if live() < most {
			watch(most)
			return
		}
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
}

// sentinel is an object for watch's finalizer. It holds a pointer so that
// it has a block of its own: a small object without pointers may share a
// tiny-allocator block with live ones, and its finalizer then never runs.
type sentinel struct{ _ *sentinel }

// live returns the live heap found by the last collection.
func live() int64 {
	s := []metrics.Sample{{Name: liveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
