package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"why502/samples"
)

// key is what a log line and an incident must share to match.
type key struct {
	client netip.AddrPort
	status int
}

// entry is one 5xx: an access.log line or an incident of why502.
type entry struct {
	key
	time time.Time
	what string // the request, and the cause for an incident
}

type result struct {
	matched              int
	minOffset, maxOffset time.Duration // capture time - log time, over the matches
	missing, extra       []entry       // by time
}

// read5xxLog returns the 5xx lines of an access.log in samples.AccessFormat,
// and the number of lines read.
func read5xxLog(r io.Reader) ([]entry, int, error) {
	var out []entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		a, err := samples.ParseAccessLine(sc.Text())
		if err != nil {
			return nil, n, fmt.Errorf("line %d: %w", n+1, err)
		}
		if a.Status >= 500 {
			out = append(out, entry{key{a.Client, a.Status}, a.Time, a.Request})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, n, err
	}
	return out, n, nil
}

// readIncidents returns the incidents of `why502 analyze --format json`.
func readIncidents(r io.Reader) ([]entry, error) {
	var doc struct {
		Incidents []struct {
			Time   time.Time `json:"time"`
			Status int       `json:"status"`
			Client string    `json:"client"`
			Method string    `json:"method"`
			URI    string    `json:"uri"`
			Cause  string    `json:"cause"`
		} `json:"incidents"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(doc.Incidents))
	for i, in := range doc.Incidents {
		c, err := netip.ParseAddrPort(in.Client)
		if err != nil {
			return nil, fmt.Errorf("incident %d: client: %w", i+1, err)
		}
		out = append(out, entry{key{c, in.Status}, in.Time, in.Method + " " + in.URI + " " + in.Cause})
	}
	return out, nil
}

// match pairs log lines with incidents of the same key whose times are at
// most tol apart. Per key, both sides are walked in time order and each line
// takes the earliest incident still free within reach: with one window width
// for all, that greedy pairing is a largest one.
func match(logged, found []entry, tol time.Duration) result {
	var r result
	byKey := func(es []entry) map[key][]entry {
		m := make(map[key][]entry)
		for _, e := range es {
			m[e.key] = append(m[e.key], e)
		}
		for _, v := range m {
			slices.SortStableFunc(v, func(a, b entry) int { return a.time.Compare(b.time) })
		}
		return m
	}
	logs, incs := byKey(logged), byKey(found)
	for k, ls := range logs {
		is := incs[k]
		i, j := 0, 0
		for i < len(ls) && j < len(is) {
			d := is[j].time.Sub(ls[i].time)
			switch {
			case d < -tol:
				r.extra = append(r.extra, is[j])
				j++
			case d > tol:
				r.missing = append(r.missing, ls[i])
				i++
			default:
				if r.matched == 0 || d < r.minOffset {
					r.minOffset = d
				}
				if r.matched == 0 || d > r.maxOffset {
					r.maxOffset = d
				}
				r.matched++
				i++
				j++
			}
		}
		r.missing = append(r.missing, ls[i:]...)
		r.extra = append(r.extra, is[j:]...)
	}
	for k, is := range incs {
		if _, ok := logs[k]; !ok {
			r.extra = append(r.extra, is...)
		}
	}
	byTime := func(a, b entry) int {
		if c := a.time.Compare(b.time); c != 0 {
			return c
		}
		if c := a.client.Compare(b.client); c != 0 {
			return c
		}
		return a.status - b.status
	}
	slices.SortFunc(r.missing, byTime)
	slices.SortFunc(r.extra, byTime)
	return r
}
