package flows

func (s Side) String() string {
	switch s {
	case Client:
		return "client"
	case Server:
		return "server"
	}
	return ""
}

func (k CloseKind) String() string {
	switch k {
	case CloseFIN:
		return "fin"
	case CloseRST:
		return "rst"
	}
	return "none"
}

func (h Handshake) String() string {
	switch h {
	case Established:
		return "established"
	case Refused:
		return "refused"
	case Unanswered:
		return "unanswered"
	case Midstream:
		return "midstream"
	}
	return "none"
}

// endpoint is a side's state the way Zeek's TCP analyzer names it
// (TCP_INACTIVE, TCP_PARTIAL, ...), the input of its conn_state.
type endpoint uint8

const (
	epInactive   endpoint = iota // nothing seen from it
	epPartial                    // seen only mid-stream
	epSYNSent                    // client: SYN sent, no SYN-ACK back
	epSYNACKSent                 // server: SYN-ACK sent, no SYN seen
	epEstablished
	epClosed // sent a FIN
	epReset  // sent a RST
)

// closeOf is how side s ended the connection, from Closed or, for a Conn
// built by hand, from Teardown.
func (c *Conn) closeOf(s Side) CloseKind {
	d := ClientToServer
	if s == Server {
		d = ServerToClient
	}
	k := c.Closed[d]
	switch {
	case c.Teardown.By == s:
		k = max(k, c.Teardown.Kind)
	case c.Teardown.By != NoSide:
		k = max(k, c.Teardown.PeerKind)
	}
	return k
}

func (c *Conn) endpoint(s Side) endpoint {
	switch c.closeOf(s) {
	case CloseRST:
		return epReset
	case CloseFIN:
		return epClosed
	}
	d := ClientToServer
	if s == Server {
		d = ServerToClient
	}
	switch {
	case c.Handshake == Established:
		return epEstablished
	case c.Handshake == Midstream && s == Server && c.SYNACK.Frame != 0:
		return epSYNACKSent
	case c.Handshake == Midstream && c.Packets[d] > 0:
		return epPartial
	case s == Client && c.SYNs > 0:
		return epSYNSent
	}
	return epInactive
}

// State returns the connection's Zeek conn_state (S0, S1, SF, REJ, S2, S3,
// RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH), computed as Zeek's
// base/protocols/conn/main.zeek does from the two endpoint states, so that
// the value can be compared with a Zeek conn.log of the same capture.
// As in Zeek, a connection seen mid-stream that was then closed gets the
// close's state (SF, RSTR, SH...), not OTH.
func (c *Conn) State() string {
	os, rs := c.endpoint(Client), c.endpoint(Server)
	oInactive := os == epInactive || os == epPartial
	rInactive := rs == epInactive || rs == epPartial
	switch {
	case rs == epReset:
		switch {
		case os == epSYNSent || os == epSYNACKSent ||
			(os == epReset && c.Bytes[ClientToServer] == 0 && c.Bytes[ServerToClient] == 0):
			return "REJ"
		case oInactive:
			return "RSTRH"
		}
		return "RSTR"
	case os == epReset:
		if !rInactive {
			return "RSTO"
		}
		// Zeek: history ^S[^HAFGIQ]*R, a SYN then the RST with
		// nothing from the responder between.
		if c.SYNs > 0 && c.Handshake == Unanswered {
			return "RSTOS0"
		}
		return "OTH"
	case os == epClosed && rs == epClosed:
		return "SF"
	case os == epClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == epClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == epSYNSent && rs == epInactive:
		return "S0"
	case os == epEstablished && rs == epEstablished:
		return "S1"
	}
	return "OTH"
}
