package gcbudget

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// pinned keeps a small object on the heap during a row of TestSet.
var pinned *int32

// settings returns the collector's percent and memory limit, unchanged.
func settings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

// restore puts the collector's settings back after the test.
func restore(t *testing.T) {
	percent, limit := settings()
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

// collectUntil runs collections (and so the finalizers) until ok or 2 s.
func collectUntil(ok func() bool) bool {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if ok() {
			return true
		}
	}
	return false
}

func TestSet(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		budget     int64
		live       int // bytes kept reachable across the collections
		wantSet    bool
		wantBudget bool // still paced against the budget after the collections
	}{
		{name: "live heap small: the budget paces", budget: 1 << 30, live: 1 << 20, wantSet: true, wantBudget: true},
		{name: "live heap half the budget: default pacing back", budget: 16 << 20, live: 12 << 20, wantSet: true},
		{name: "GOGC set: the user's", env: map[string]string{"GOGC": "200"}, budget: 1 << 30},
		{name: "GOMEMLIMIT set: the user's", env: map[string]string{"GOMEMLIMIT": "1GiB"}, budget: 1 << 30},
		{name: "no budget", budget: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			restore(t)
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			t.Setenv("GOGC", tc.env["GOGC"])
			t.Setenv("GOMEMLIMIT", tc.env["GOMEMLIMIT"])
			// A small object allocated just before, kept live: the
			// watch's own object must not share its block (a tiny one
			// would, and its finalizer would never run).
			pinned = new(int32)
			if got := Set(tc.budget); got != tc.wantSet {
				t.Fatalf("Set(%d)\n- want: %v\n-  got: %v", tc.budget, tc.wantSet, got)
			}
			if !tc.wantSet {
				if p, l := settings(); p != 100 || l != math.MaxInt64 {
					t.Errorf("settings changed\n- want: 100, no limit\n-  got: %d, %d", p, l)
				}
				return
			}
			if p, l := settings(); p != -1 || l != tc.budget {
				t.Fatalf("after Set\n- want: percent -1, limit %d\n-  got: %d, %d", tc.budget, p, l)
			}
			keep := make([]byte, tc.live)
			paced := func() bool { p, _ := settings(); return p == -1 }
			if tc.wantBudget {
				for range 5 {
					runtime.GC()
					time.Sleep(10 * time.Millisecond)
				}
				if !paced() {
					t.Errorf("live heap %d bytes under a %d budget: default pacing came back", tc.live, tc.budget)
				}
			} else if !collectUntil(func() bool { return !paced() }) {
				t.Errorf("live heap %d bytes, budget %d: still paced against the budget", tc.live, tc.budget)
			} else if p, l := settings(); p != 100 || l != math.MaxInt64 {
				t.Errorf("default pacing\n- want: 100, no limit\n-  got: %d, %d", p, l)
			}
			runtime.KeepAlive(keep)
			pinned = nil
			// Stop this row's watch before the next row: its finalizer
			// may still be armed.
			debug.SetMemoryLimit(math.MaxInt64)
		})
	}
}
