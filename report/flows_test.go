package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr string
	}{
		{"table", Table, ""},
		{"json", JSON, ""},
		{"jsonl", JSONL, ""},
		{"xml", "", `unknown format "xml" (want table, json, jsonl)`},
		{"", "", `unknown format ""`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseFormat(tc.in, Table, JSON, JSONL)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error\n- want: %s\n-  got: %v", tc.wantErr, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("\n- want: %s\n-  got: %s (%v)", tc.want, got, err)
			}
		})
	}
}

func TestWiresharkFilter(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{"ipv4", "10.0.0.1:40312", "10.0.0.7:8080", "ip.addr==10.0.0.1 && tcp.port==40312 && ip.addr==10.0.0.7 && tcp.port==8080"},
		{"ipv6", "[2001:db8::1]:40312", "[::1]:8080", "ipv6.addr==2001:db8::1 && tcp.port==40312 && ipv6.addr==::1 && tcp.port==8080"},
		{"ipv4-mapped", "[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.7]:2", "ip.addr==10.0.0.1 && tcp.port==1 && ip.addr==10.0.0.7 && tcp.port==2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WiresharkFilter(netip.MustParseAddrPort(tc.a), netip.MustParseAddrPort(tc.b))
			if got != tc.want {
				t.Errorf("\n- want: %s\n-  got: %s", tc.want, got)
			}
		})
	}
}

// resetConn is a backend that reset a connection with a request in flight.
func resetConn() *flows.Conn {
	t0 := time.Date(2026, 3, 4, 14, 28, 53, 123456789, time.UTC)
	return &flows.Conn{
		ID: 7, Client: netip.MustParseAddrPort("10.0.0.1:40312"), Server: netip.MustParseAddrPort("10.0.0.7:8080"),
		First: flows.FrameRef{File: "gw.pcap", Frame: 1201, Time: t0}, Last: t0.Add(2 * time.Millisecond),
		Handshake: flows.Established, SYNs: 1,
		Bytes: [2]int64{312, 0}, Packets: [2]int64{3, 2},
		LastData: [2]time.Time{t0.Add(time.Millisecond), {}},
		Turns:    1,
		Teardown: flows.Teardown{By: flows.Server, Kind: flows.CloseRST,
			At:            flows.FrameRef{File: "gw.pcap", Frame: 1207, Time: t0.Add(2 * time.Millisecond)},
			SincePeerData: time.Millisecond, HasPeerData: true, PeerUnanswered: true},
	}
}

func TestFlowWriterFormats(t *testing.T) {
	sum := FlowsSummary{Files: []string{"gw.pcap"}, Capture: capture.Stats{Frames: 9, TCP: 5, NonTCP: 4, Truncated: 2}, Flows: flows.Stats{Conns: 1}}
	tests := []struct {
		format Format
		want   []string // substrings, in order
	}{
		{Table, []string{"START", "SUMMARY", "14:28:53.123456", "10.0.0.1:40312", "10.0.0.7:8080", "RSTR", "312", "server RST",
			"server reset the connection 0.00 s after the request, before any response",
			"1 connections (RSTR 1) from 9 frames (5 TCP) in gw.pcap", "4 non-TCP frames skipped", "2 packets cut by the snapshot length"}},
		{JSON, []string{`{"connections": [`, `"start":"2026-03-04T14:28:53.123456789Z"`, `"client":"10.0.0.1:40312"`, `"state":"RSTR"`,
			`"closed_by":"server","close":"rst"`, `"close_frame":1207`, `"peer_unanswered":true`,
			`"wireshark_filter":"ip.addr==10.0.0.1 && tcp.port==40312 && ip.addr==10.0.0.7 && tcp.port==8080"`,
			`"summary": {`, `"non_tcp_frames": 4`, `"states": {`}},
		{JSONL, []string{`{"id":7,`, `"file":"gw.pcap","first_frame":1201`}},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			var out bytes.Buffer
			fw := NewFlowWriter(&out, tc.format)
			if err := fw.Conn(resetConn()); err != nil {
				t.Fatal(err)
			}
			if err := fw.Close(sum); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks (or misorders)\n- want: %s\n-  got: %s", w, got)
				}
				rest = rest[i+len(w):]
			}
			if tc.format != Table {
				dec := json.NewDecoder(strings.NewReader(got))
				for dec.More() {
					var v map[string]any
					if err := dec.Decode(&v); err != nil {
						t.Fatalf("not valid JSON: %v\n%s", err, got)
					}
				}
			}
		})
	}
}
