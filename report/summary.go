package report

// summaryJSON is the "summary" object of the JSON output.
type summaryJSON struct {
	Files        []string       `json:"files"`
	Start        string         `json:"start"`
	End          string         `json:"end"`
	Frames       int64          `json:"frames"`
	TCPPackets   int64          `json:"tcp_packets"`
	NonTCP       int64          `json:"non_tcp_frames"`
	Fragments    int64          `json:"ip_fragments"`
	Truncated    int64          `json:"snaplen_truncated"`
	Undecodable  int64          `json:"undecodable_frames"`
	Filtered     int64          `json:"filtered_out"`
	Connections  int64          `json:"connections"`
	States       map[string]int `json:"states"`
	Shed         int64          `json:"shed_connections"`
	Expired      int64          `json:"idle_expired_connections"`
	Gaps         int64          `json:"gaps"`
	GapBytes     int64          `json:"gap_bytes"`
	Overflows    int64          `json:"buffer_overflows"`
	WarningCount int64          `json:"warning_count"`
	Warnings     []string       `json:"warnings"`
}

func newSummaryJSON(s FlowsSummary, states map[string]int) summaryJSON {
	c, f := s.Capture, s.Flows
	j := summaryJSON{
		Files: s.Files, Start: formatTime(c.First), End: formatTime(c.Last),
		Frames: c.Frames, TCPPackets: c.TCP, NonTCP: c.NonTCP, Fragments: c.Fragments,
		Truncated: c.Truncated, Undecodable: c.Undecodable, Filtered: c.Filtered,
		Connections: f.Conns, States: states, Shed: f.Shed, Expired: f.Expired,
		Gaps: f.Gaps, GapBytes: f.GapBytes, Overflows: f.Overflows,
		WarningCount: c.Warnings, Warnings: []string{},
	}
	for _, w := range s.Warnings {
		j.Warnings = append(j.Warnings, w.Error())
	}
	return j
}
