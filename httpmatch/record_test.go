package httpmatch

import (
	"testing"
	"time"

	"why502/flows"
)

// TestKeptTimes: a kept exchange gives back the times and frames of its
// Exchange exactly, whether they fit in nanoseconds or not (exactTimes).
func TestKeptTimes(t *testing.T) {
	utc := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	paris := time.FixedZone("CET", 3600)
	far := time.Date(2500, 1, 1, 0, 0, 0, 1, time.UTC) // beyond nanos' exact range
	tests := []struct {
		name           string
		req, resp, hdr time.Time
		status         int
		wantFar        bool
		wantDur        time.Duration
	}{
		{"UTC, answered", utc, utc.Add(3 * time.Millisecond), utc.Add(4 * time.Millisecond), 200, false, 3 * time.Millisecond},
		{"no request (orphan)", time.Time{}, utc, utc.Add(time.Millisecond), 502, false, 0},
		{"no response", utc, time.Time{}, time.Time{}, 0, false, 0},
		{"a response begun without a status line", utc, utc.Add(time.Millisecond), utc.Add(time.Millisecond), 0, true, 0},
		{"another location", utc.In(paris), utc.Add(time.Millisecond).In(paris), utc.Add(2 * time.Millisecond).In(paris), 200, true, time.Millisecond},
		{"beyond 2262", far, far.Add(time.Second), far.Add(time.Second), 200, true, 0},
		{"monotonic reading", time.Now(), time.Now(), time.Now(), 200, true, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Exchange
			e.Index = 3
			e.Request.Start = flows.FrameRef{File: "a.pcap", Frame: 7, Time: tc.req}
			e.Response.Start = flows.FrameRef{File: "b.pcap", Frame: 9, Time: tc.resp}
			e.Response.HeaderEnd = flows.FrameRef{File: "b.pcap", Frame: 10, Time: tc.hdr}
			e.Response.Status = tc.status
			var k keptExchange
			k.keep(&e)
			if (k.far != nil) != tc.wantFar {
				t.Errorf("exactTimes kept: %v, want %v", k.far != nil, tc.wantFar)
			}
			same := func(what string, got, want time.Time) {
				if got != want && !(got.IsZero() && want.IsZero()) {
					t.Errorf("%s: got %v, want %v", what, got, want)
				}
			}
			same("request start", k.reqTime(), tc.req)
			same("request frame time", k.reqStart().Time, tc.req)
			same("response start", k.respTime(), tc.resp)
			same("header end", k.hdrTime(), tc.hdr)
			if r := k.reqStart(); r.File != "a.pcap" || r.Frame != 7 {
				t.Errorf("request frame: got %s #%d, want a.pcap #7", r.File, r.Frame)
			}
			if r := k.respStart(); r.File != "b.pcap" || r.Frame != 9 {
				t.Errorf("response frame: got %s #%d, want b.pcap #9", r.File, r.Frame)
			}
			if k.status != tc.status || k.Index != 3 {
				t.Errorf("status %d, index %d; want %d, 3", k.status, k.Index, tc.status)
			}
			if tc.wantDur >= 0 && time.Duration(k.durNs()) != tc.wantDur {
				t.Errorf("wait: got %v, want %v", time.Duration(k.durNs()), tc.wantDur)
			}
		})
	}
}
