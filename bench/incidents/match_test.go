package main

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	c1 := netip.MustParseAddrPort("127.0.0.1:40000")
	c2 := netip.MustParseAddrPort("127.0.0.1:40001")
	e := func(c netip.AddrPort, status, ms int) entry { return entry{key{c, status}, at(ms), ""} }
	tests := []struct {
		name           string
		logged, found  []entry
		matched        int
		missing, extra []entry
	}{
		{
			name: "empty",
		},
		{
			name:    "same client, status and time",
			logged:  []entry{e(c1, 502, 0)},
			found:   []entry{e(c1, 502, 0)},
			matched: 1,
		},
		{
			name:    "capture time a little after $msec, within tolerance",
			logged:  []entry{e(c1, 504, 1000)},
			found:   []entry{e(c1, 504, 1003)},
			matched: 1,
		},
		{
			name:    "too far apart in time",
			logged:  []entry{e(c1, 502, 0)},
			found:   []entry{e(c1, 502, 500)},
			missing: []entry{e(c1, 502, 0)},
			extra:   []entry{e(c1, 502, 500)},
		},
		{
			name:    "same count, other client port: not the same set",
			logged:  []entry{e(c1, 502, 0)},
			found:   []entry{e(c2, 502, 0)},
			missing: []entry{e(c1, 502, 0)},
			extra:   []entry{e(c2, 502, 0)},
		},
		{
			name:    "other status",
			logged:  []entry{e(c1, 502, 0)},
			found:   []entry{e(c1, 504, 0)},
			missing: []entry{e(c1, 502, 0)},
			extra:   []entry{e(c1, 504, 0)},
		},
		{
			name:    "two on one connection 40 ms apart pair in order",
			logged:  []entry{e(c1, 502, 40), e(c1, 502, 0)},
			found:   []entry{e(c1, 502, 1), e(c1, 502, 41)},
			matched: 2,
		},
		{
			name:    "one incident cannot serve two lines",
			logged:  []entry{e(c1, 502, 0), e(c1, 502, 20)},
			found:   []entry{e(c1, 502, 10)},
			matched: 1,
			missing: []entry{e(c1, 502, 20)},
		},
		{
			name:    "an early extra does not take the line of a later incident",
			logged:  []entry{e(c1, 502, 1000)},
			found:   []entry{e(c1, 502, 0), e(c1, 502, 1001)},
			matched: 1,
			extra:   []entry{e(c1, 502, 0)},
		},
		{
			name:    "incident on a client with no 5xx in the log",
			logged:  []entry{e(c1, 502, 0)},
			found:   []entry{e(c1, 502, 0), e(c2, 503, 5)},
			matched: 1,
			extra:   []entry{e(c2, 503, 5)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := match(tc.logged, tc.found, 100*time.Millisecond)
			if r.matched != tc.matched {
				t.Errorf("matched:\n- want: %d\n-  got: %d", tc.matched, r.matched)
			}
			if got, want := keys(r.missing), keys(tc.missing); got != want {
				t.Errorf("missing:\n- want: %s\n-  got: %s", want, got)
			}
			if got, want := keys(r.extra), keys(tc.extra); got != want {
				t.Errorf("extra:\n- want: %s\n-  got: %s", want, got)
			}
		})
	}
}

// keys says which 5xx a list holds, in order: client, status, time.
func keys(es []entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%v %d %s; ", e.client, e.status, e.time.Format("15:04:05.000"))
	}
	return b.String()
}

// TestRun reads the hand-written testdata: six 5xx on each side, five of
// which agree; the sixth is on client port 40990 in the log and 40991 in the
// JSON, so the counts are equal and the sets are not. And a set that
// agrees: samples/loopback's access log and the analyze JSON of its
// capture (report's golden file).
func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		log, json string
		tolerance time.Duration
		same      bool
		want      []string
	}{
		{
			name:      "the loopback sample",
			log:       "../../samples/loopback/access.log",
			json:      "../../report/testdata/analyze-loopback.json.golden",
			tolerance: 100 * time.Millisecond,
			same:      true,
			want: []string{
				"incident set: EQUAL: matched 13 of 13 5xx in the access log (21 lines); missing 0, extra 0 (why502: 13 incidents)",
			},
		},
		{
			name:      "default tolerance",
			tolerance: 100 * time.Millisecond,
			want: []string{
				"incident set: DIFFERENT: matched 5 of 6 5xx in the access log (7 lines); missing 1, extra 1 (why502: 6 incidents)",
				"seen: 101µs to 876µs",
				"    12:38:29.500000 502 127.0.0.1:40990 GET /badheader HTTP/1.1",
				"    12:38:29.500170 502 127.0.0.1:40991 GET /badheader invalid_response",
			},
		},
		{
			name:      "tolerance below the offsets",
			tolerance: 200 * time.Microsecond,
			want: []string{
				"incident set: DIFFERENT: matched 1 of 6 5xx in the access log (7 lines); missing 5, extra 5 (why502: 6 incidents)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			log, json := cmp.Or(tc.log, "testdata/access.log"), cmp.Or(tc.json, "testdata/analyze.json")
			same, err := run(&out, log, json, tc.tolerance, 10)
			if err != nil {
				t.Fatal(err)
			}
			if same != tc.same {
				t.Errorf("same:\n- want: %v\n-  got: %v", tc.same, same)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
