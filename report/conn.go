package report

import (
	"net/netip"
	"strconv"

	"why502/flows"
)

// connJSON is the JSON contract for one connection (README: "why502 flows").
type connJSON struct {
	ID         uint64  `json:"id"`
	Start      string  `json:"start"`
	End        string  `json:"end"`
	DurationS  float64 `json:"duration_s"`
	Client     string  `json:"client"`
	Server     string  `json:"server"`
	State      string  `json:"state"`
	Handshake  string  `json:"handshake"`
	SYNs       int     `json:"syns"`
	SYNSpanS   float64 `json:"syn_span_s,omitempty"`
	RTTMs      float64 `json:"rtt_ms,omitempty"`
	BytesCli   int64   `json:"bytes_client"`
	BytesSrv   int64   `json:"bytes_server"`
	PktsCli    int64   `json:"packets_client"`
	PktsSrv    int64   `json:"packets_server"`
	ClosedBy   string  `json:"closed_by"`
	Close      string  `json:"close"`
	CloseTime  string  `json:"close_time,omitempty"`
	CloseFrame int64   `json:"close_frame,omitempty"`
	// Seconds from the closing side's own last data, and from its peer's, to the close.
	SinceOwnDataS  *float64  `json:"since_own_data_s,omitempty"`
	SincePeerDataS *float64  `json:"since_peer_data_s,omitempty"`
	PeerUnacked    int64     `json:"peer_unacked_bytes"`
	PeerUnanswered bool      `json:"peer_unanswered"`
	PeerClose      string    `json:"peer_close"`
	Turns          int       `json:"turns"`
	LastIdleS      float64   `json:"last_idle_s"`
	MaxIdleS       float64   `json:"max_idle_s"`
	GapCount       int       `json:"gap_count"`
	GapBytesCli    int64     `json:"gap_bytes_client"`
	GapBytesSrv    int64     `json:"gap_bytes_server"`
	Gaps           []gapJSON `json:"gaps,omitempty"`
	Ended          string    `json:"ended"`
	File           string    `json:"file"`
	FirstFrame     int64     `json:"first_frame"`
	Wireshark      string    `json:"wireshark_filter"`
	Summary        string    `json:"summary"`
}

type gapJSON struct {
	Dir     string `json:"dir"`
	Offset  int64  `json:"offset"`
	Len     int64  `json:"len"`
	File    string `json:"file"`
	Frame   int64  `json:"frame"`
	Snaplen bool   `json:"snaplen"`
}

func dirName(d flows.Dir) string {
	if d == flows.ClientToServer {
		return "client"
	}
	return "server"
}

// ended says why the record was written: the connection closed, went idle,
// was shed at the connection cap, or was still open when the input ended.
func ended(c *flows.Conn) string {
	switch {
	case c.Shed:
		return "shed"
	case c.Expired:
		return "idle"
	case c.Unfinished:
		return "open"
	}
	return "closed"
}

func newConnJSON(c *flows.Conn) connJSON {
	td := c.Teardown
	j := connJSON{
		ID:             c.ID,
		Start:          formatTime(c.First.Time),
		End:            formatTime(c.Last),
		DurationS:      seconds(c.Last.Sub(c.First.Time)),
		Client:         c.Client.String(),
		Server:         c.Server.String(),
		State:          c.State(),
		Handshake:      c.Handshake.String(),
		SYNs:           c.SYNs,
		SYNSpanS:       seconds(c.SYNSpan),
		RTTMs:          float64(c.RTT.Microseconds()) / 1000,
		BytesCli:       c.Bytes[flows.ClientToServer],
		BytesSrv:       c.Bytes[flows.ServerToClient],
		PktsCli:        c.Packets[flows.ClientToServer],
		PktsSrv:        c.Packets[flows.ServerToClient],
		ClosedBy:       sideName(td.By),
		Close:          td.Kind.String(),
		PeerUnacked:    td.PeerUnacked,
		PeerUnanswered: td.PeerUnanswered,
		PeerClose:      td.PeerKind.String(),
		Turns:          c.Turns,
		LastIdleS:      seconds(c.LastIdle),
		MaxIdleS:       seconds(c.MaxIdle),
		GapCount:       c.GapCount,
		GapBytesCli:    c.GapBytes[flows.ClientToServer],
		GapBytesSrv:    c.GapBytes[flows.ServerToClient],
		Ended:          ended(c),
		File:           c.First.File,
		FirstFrame:     c.First.Frame,
		Wireshark:      WiresharkFilter(c.Client, c.Server),
		Summary:        c.Summary(),
	}
	if td.Kind != flows.CloseNone {
		j.CloseTime = formatTime(td.At.Time)
		j.CloseFrame = td.At.Frame
		if td.HasOwnData {
			s := seconds(td.SinceOwnData)
			j.SinceOwnDataS = &s
		}
		if td.HasPeerData {
			s := seconds(td.SincePeerData)
			j.SincePeerDataS = &s
		}
	}
	for _, g := range c.Gaps {
		j.Gaps = append(j.Gaps, gapJSON{
			Dir: dirName(g.Dir), Offset: g.Offset, Len: g.Len,
			File: g.At.File, Frame: g.At.Frame, Snaplen: g.Snaplen,
		})
	}
	return j
}

func sideName(s flows.Side) string {
	if s == flows.NoSide {
		return "none"
	}
	return s.String()
}

// WiresharkFilter returns the display filter that selects one connection
// in Wireshark (the same one as "Follow TCP Stream" would build).
func WiresharkFilter(a, b netip.AddrPort) string {
	ip := "ip.addr"
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		ip = "ipv6.addr"
	}
	// Appended, not Sprintf'd: a dozen per incident (perf).
	buf := make([]byte, 0, 96)
	for i, ap := range [2]netip.AddrPort{a, b} {
		if i > 0 {
			buf = append(buf, " && "...)
		}
		buf = append(buf, ip...)
		buf = append(buf, "=="...)
		buf = ap.Addr().Unmap().AppendTo(buf)
		buf = append(buf, " && tcp.port=="...)
		buf = strconv.AppendUint(buf, uint64(ap.Port()), 10)
	}
	return string(buf)
}
