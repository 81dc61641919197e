package flows

import (
	"fmt"
	"time"
)

// Summary says in one sentence what happened to the connection, for an
// on-call engineer: who ended it, how, and relative to what (the request,
// the response, an idle spell). Durations carry two decimals.
func (c *Conn) Summary() string {
	switch c.Handshake {
	case Refused:
		return fmt.Sprintf("SYN refused by %s: nothing listening", c.Server)
	case Unanswered:
		s := fmt.Sprintf("SYN to %s never answered: ", c.Server)
		if c.SYNs <= 1 {
			s += "1 SYN"
		} else {
			s += fmt.Sprintf("%d SYNs over %s", c.SYNs, secs(c.SYNSpan))
		}
		if c.closeOf(Client) == CloseRST {
			s += ", then the client reset it"
		}
		return s
	}
	td := c.Teardown
	if td.Kind == CloseNone {
		if c.Handshake == Midstream {
			return "capture began mid-connection"
		}
		switch {
		case c.Shed:
			return "connection open, dropped at the connection limit"
		case c.Expired:
			return "connection open, idle past the timeout"
		}
		return "connection still open at the end of the capture"
	}
	s := c.closeSentence()
	if td.By == Server && !c.LastData[ClientToServer].IsZero() && c.LastData[ClientToServer].After(td.At.Time) {
		// The keep-alive race: the client, not yet aware, sends into a
		// connection the server has closed.
		s += fmt.Sprintf("; the client sent data %s later", secs(c.LastData[ClientToServer].Sub(td.At.Time)))
		if td.Kind == CloseFIN && c.closeOf(Server) == CloseRST {
			s += " and the server reset"
		}
	}
	if c.Handshake == Midstream {
		s += " (capture began mid-connection)"
	}
	return s
}

// closeSentence describes the first close.
func (c *Conn) closeSentence() string {
	td := c.Teardown
	who := td.By.String()
	verb := "sent FIN"
	closed := "closed"
	if td.Kind == CloseRST {
		verb = "reset the connection"
		closed = "reset"
	}
	ownLast := td.HasOwnData && (!td.HasPeerData || td.SinceOwnData <= td.SincePeerData)
	switch {
	case td.By == Server && td.PeerUnanswered,
		td.By == Client && td.HasOwnData && !td.PeerUnanswered && ownLast:
		// The closer's peer (server) or the closer itself (client) had
		// the last word with a request: the response never came.
		since := td.SincePeerData
		if td.By == Client {
			since = td.SinceOwnData
		}
		if c.Bytes[ServerToClient] > 0 {
			// Earlier requests on this connection were answered.
			return fmt.Sprintf("%s %s %s after the last request, before responding to it", who, verb, secs(since))
		}
		return fmt.Sprintf("%s %s %s after the request, before any response", who, verb, secs(since))
	case td.By == Client && td.PeerUnanswered:
		return fmt.Sprintf("client %s %s after the response", closed, secs(td.SincePeerData))
	case td.By == Server && ownLast && td.SinceOwnData >= idleSpell:
		return fmt.Sprintf("server %s the idle connection after %s", closed, secs(td.SinceOwnData))
	case td.By == Server && ownLast:
		return fmt.Sprintf("server %s %s after its response", closed, secs(td.SinceOwnData))
	}
	// No payload either way: idle since the connection began.
	return fmt.Sprintf("%s %s the idle connection after %s", who, closed, secs(td.At.Time.Sub(c.First.Time)))
}

// idleSpell is how long a connection must have been silent before a close
// is called a close of an idle connection rather than one that follows the
// response (Connection: close, or a server that ends after each answer).
const idleSpell = 100 * time.Millisecond

func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
