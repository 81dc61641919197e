package main

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// retry is the sequence for an upstream group of a live and a dead server
// (nginx-retry): nginx alternates between them, so about every other request
// first meets the dead one (connect refused), is retried on the live one and
// succeeds: a hidden failure. Failures of the live backend come after, then a
// location whose group is all dead (refused, then "no live upstreams").
// Returns the exit code.
func (d *driver) retry() int {
	failed := 0
	n := 0
	run := func(s step) {
		n++
		if !d.do(n, s) {
			failed++
		}
	}
	// Every other request meets the dead server first; four per round, so
	// GETs and POSTs both do.
	for i := 0; i < 2; i++ {
		run(step{"GET", "/ok", 0, false, "round robin: dead server first every other request", false})
		run(step{"POST", "/ok", 300, false, "", false})
		run(step{"POST", "/ok?size=2000", 300, false, "a POST is retried too: the connect failed before it was sent", false})
		run(step{"GET", "/ok?size=2000", 0, false, "", false})
	}
	for _, s := range []step{
		{"GET", "/502", 0, false, "backend itself answers 502", false},
		{"GET", "/slow", 0, false, "backend FIN; a GET is retried on the other server", false},
		{"POST", "/slow", 500, false, "backend FIN; a POST is not retried once sent", false},
		{"GET", "/reset", 0, false, "backend RST; retried on the other server", false},
		{"GET", "/badheader", 0, false, "invalid header (not retried: proxy_next_upstream has no invalid_header)", false},
		{"GET", "/hang", 0, false, "read timeout; retried on the other server", false},
		{"GET", "/allrefused/x", 0, false, "both servers of the group refuse", false},
		{"GET", "/allrefused/y", 0, false, "both marked failed: no live upstreams", false},
		{"GET", "/ok", 0, false, "", false},
		{"GET", "/ok", 0, false, "", false},
		{"POST", "/ok", 100, false, "", false},
		{"GET", "/ok", 0, true, "last request, closes the client connection", false},
	} {
		run(s)
	}
	return exitCode(failed)
}

// race sends n requests on one client connection, pausing before each for
// a duration that grows linearly from `from` to `to`: pauses around the
// backend's idle timeout make nginx reuse an upstream connection just as the
// backend closes it. Two in three are POSTs (nginx does not retry them, so
// the client gets the 502); the GETs show nginx's silent retry.
func (d *driver) race(n int, from, to time.Duration) int {
	failed := 0
	d.do(1, step{"GET", "/ok", 0, false, "opens the client and upstream connections", false})
	for i := 0; i < n; i++ {
		pause := from
		if n > 1 {
			pause = from + (to-from)*time.Duration(i)/time.Duration(n-1)
		}
		time.Sleep(pause)
		s := step{"POST", "/ok?size=500", 200, false, fmt.Sprintf("after %v idle", pause), false}
		if i%3 == 2 {
			s = step{"GET", "/ok?size=500", 0, false, fmt.Sprintf("after %v idle", pause), false}
		}
		if !d.do(i+2, s) {
			failed++
		}
	}
	return exitCode(failed)
}

// loadPath is request i of the load sequence: mostly small successes, with
// a fixed share of every failure kind (about 9% of requests end in 5xx).
func loadPath(i int) step {
	switch {
	case i%1000 == 500:
		return step{"GET", "/hang", 0, false, "", false}
	case i%200 == 99:
		return step{"POST", "/slow", 300, false, "", false}
	case i%40 == 7:
		return step{"GET", "/reset", 0, false, "", false}
	case i%40 == 17:
		return step{"GET", "/502", 0, false, "", false}
	case i%40 == 27:
		return step{"GET", "/refused/x", 0, false, "", false}
	case i%40 == 37:
		return step{"POST", "/ok?size=1000", 500, false, "", false}
	case i%100 == 55:
		return step{"GET", "/badheader", 0, false, "", false}
	}
	return step{"GET", "/ok?size=300", 0, false, "", false}
}

// load sends n requests of loadPath, c at a time, and prints counts by
// method, path and status (the logs hold the details).
func (d *driver) load(n, c int) int {
	d.client.Transport.(*http.Transport).MaxIdleConnsPerHost = c
	var next atomic.Int64
	var mu sync.Mutex
	counts := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s := loadPath(i)
				st := d.quiet(s)
				key := fmt.Sprintf("%-4s %-14s %s", s.method, s.path, statusText(st))
				mu.Lock()
				counts[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	errs := 0
	for _, k := range keys {
		fmt.Printf("%6d  %s\n", counts[k], k)
		if len(k) > 5 && k[len(k)-5:] == "error" {
			errs += counts[k]
		}
	}
	fmt.Printf("%d requests, %d at a time, in %v\n", n, c, time.Since(start).Round(time.Millisecond))
	if errs > 0 {
		return 1
	}
	return 0
}

func statusText(st int) string {
	if st == 0 {
		return "error"
	}
	return fmt.Sprint(st)
}

// crash keeps c clients busy for dur, each sending POST /work?ms=work every
// `every` whatever the answer (a fixed rate, so the down window fills with
// refused connects at the same pace as before and after it), while
// make-samples.sh SIGKILLs the backend and restarts it. The clients start
// every/c apart, so some request reaches nginx every every/c on average:
// that bounds how late the capture sees the backend accept again.
// POSTs, because nginx does not retry them once sent: each request cut off
// by the kill is one attempt, one error.log line. (GETs are retried at the
// same instant on new connections, all refused, and which retry belongs to
// which request can then only be guessed from timing.)
func (d *driver) crash(c int, dur, every, work time.Duration) int {
	d.client.Transport.(*http.Transport).MaxIdleConnsPerHost = c
	var mu sync.Mutex
	counts := map[string]int{}
	path := fmt.Sprintf("/work?ms=%d", work.Milliseconds())
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(every * time.Duration(w) / time.Duration(c))
			for next.Sub(start) < dur {
				time.Sleep(time.Until(next))
				st := d.quiet(step{"POST", path, 0, false, "", false}) // no body: Content-Length: 0
				mu.Lock()
				counts[fmt.Sprintf("%-4s %-14s %s", "POST", path, statusText(st))]++
				mu.Unlock()
				// A slow answer skips the slots it overran instead of bunching up.
				next = next.Add(every)
				for time.Until(next) < 0 {
					next = next.Add(every)
				}
			}
		}()
	}
	wg.Wait()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%6d  %s\n", counts[k], k)
	}
	fmt.Printf("%d clients, one request each per %v, for %v (took %v)\n", c, every, dur, time.Since(start).Round(time.Millisecond))
	return 0
}

// timeout is the sequence for a backend that cuts requests off at a fixed
// deadline (backend -kill-after): handlers slower than it get no answer,
// faster ones do. POSTs are not retried by nginx; a GET that fails on a
// reused upstream connection is retried once on a new one (and cut off again).
func (d *driver) timeout() int {
	failed := 0
	for i, s := range []step{
		{"GET", "/ok", 0, false, "normal answer", false},
		{"POST", "/work?ms=3000", 300, false, "handler slower than the deadline: closed without an answer", false},
		{"GET", "/work?ms=300", 0, false, "handler faster than the deadline", false},
		{"POST", "/work?ms=4000", 300, false, "slower still: cut off at the same time", false},
		{"POST", "/work?ms=2500", 300, false, "", false},
		{"GET", "/ok", 0, false, "", false},
		{"POST", "/work?ms=3500", 300, false, "", false},
		{"GET", "/work?ms=1000", 0, false, "under the deadline", false},
		{"GET", "/work?ms=3000", 0, false, "a GET: nginx retries it once on a new connection, cut off again", false},
		{"GET", "/ok", 0, true, "last request, closes the client connection", false},
	} {
		if !d.do(i+1, s) {
			failed++
		}
	}
	return exitCode(failed)
}

// exitCode is a sequence's exit code: 1, said, when failed requests got no
// HTTP answer (transport errors, not 5xx: the proxy itself did not answer).
func exitCode(failed int) int {
	if failed > 0 {
		fmt.Printf("drive: %d requests got no HTTP answer\n", failed)
		return 1
	}
	return 0
}
