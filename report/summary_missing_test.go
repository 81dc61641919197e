package report

import (
	"bytes"
	"strings"
	"testing"

	"why502/flows"
	"why502/httpmatch"
)

// TestAnalyzeSummaryIncomplete: connections shed or expired, connect
// attempts shed and 5xx without their request are in the summary, text and
// JSON; a clean run's summary keeps its shape.
func TestAnalyzeSummaryIncomplete(t *testing.T) {
	tests := []struct {
		name      string
		s         AnalyzeSummary
		text      []string // each must be in the text summary
		json      []string // each must be in the JSON summary
		notInJSON []string
	}{
		{"clean", AnalyzeSummary{Analyze: httpmatch.AnalyzeStats{Requests: 3, Responses5xx: 1}},
			[]string{"3 front requests, 1 answered 5xx;"}, []string{`"responses_5xx": 1`},
			[]string{"shed_connections", "idle_expired_connections", "responses_without_request", "shed_connect_attempts"}},
		{"shed, expired, without request", AnalyzeSummary{
			Flows:   flows.Stats{Shed: 4, Expired: 2},
			Analyze: httpmatch.AnalyzeStats{Requests: 3, Responses5xx: 2, WithoutRequest: 1}},
			[]string{"3 front requests, 2 answered 5xx (1 without their request in the capture)",
				"Note: 4 connections shed at --max-conns, 2 expired idle past --idle-timeout: incidents on them may be missing."},
			[]string{`"shed_connections": 4`, `"idle_expired_connections": 2`, `"responses_without_request": 1`}, nil},
		{"SYN flood on the front", AnalyzeSummary{
			Flows:   flows.Stats{Shed: 1000},
			Analyze: httpmatch.AnalyzeStats{ShedAttempts: 900, ShedNotUpstream: 900}},
			[]string{"Note: 900 connect attempts shed at --max-conns, all to the proxy's front (a SYN flood) or to no upstream: no incident lost an attempt to it."},
			[]string{`"shed_connect_attempts": 900`, `"shed_connect_attempts_not_upstream": 900`}, nil},
		{"connect attempts that may have been the proxy's shed", AnalyzeSummary{
			Analyze: httpmatch.AnalyzeStats{ShedAttempts: 7, ShedNotUpstream: 5}},
			[]string{"Note: 7 connect attempts shed at --max-conns (5 to the proxy's front or to no upstream): an incident without an upstream attempt while they were shed says so."},
			[]string{`"shed_connect_attempts": 7`, `"shed_connect_attempts_not_upstream": 5`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var text, doc bytes.Buffer
			if err := NewIncidentWriter(&text, JSONL).WriteSummaryText(&text, tc.s); err != nil {
				t.Fatal(err)
			}
			if err := NewIncidentWriter(&doc, JSON).Close(tc.s); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.text {
				if !strings.Contains(text.String(), s) {
					t.Errorf("text\n- want: containing %q\n-  got: %s", s, text.String())
				}
			}
			for _, s := range tc.json {
				if !strings.Contains(doc.String(), s) {
					t.Errorf("json\n- want: containing %q\n-  got: %s", s, doc.String())
				}
			}
			for _, s := range tc.notInJSON {
				if strings.Contains(doc.String(), s) {
					t.Errorf("json\n- want: without %q\n-  got: %s", s, doc.String())
				}
			}
		})
	}
}
