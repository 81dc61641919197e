package flows

import (
	"net/netip"
	"time"
)

// Dir is the direction of data on a connection.
type Dir uint8

// The two directions; a connection's client is the side that sent the first
// SYN (or, for a connection seen mid-stream, the side with the higher port).
const (
	ClientToServer Dir = iota
	ServerToClient
)

// Side names one end of a connection.
type Side uint8

// The sides of a connection.
const (
	NoSide Side = iota
	Client
	Server
)

// Handshake is how a connection's three-way handshake went.
type Handshake uint8

// Handshake outcomes.
const (
	// Established: the SYN was answered by a SYN-ACK.
	Established Handshake = iota + 1
	// Refused: the SYN was answered by RST (nothing listening).
	Refused
	// Unanswered: SYN(s) only, never a SYN-ACK in the capture.
	Unanswered
	// Midstream: the capture began after the handshake.
	Midstream
)

// CloseKind is how a side ended the connection.
type CloseKind uint8

// Ways a connection ends.
const (
	CloseNone CloseKind = iota
	CloseFIN
	CloseRST
)

// FrameRef points at one frame of the input, for evidence a user can open in Wireshark.
type FrameRef struct {
	File  string
	Frame int64
	Time  time.Time
}

// Gap is a run of stream bytes that were not captured (lost, dropped by the
// capture, outside the capture's start, or cut by snaplen).
type Gap struct {
	Dir     Dir
	Offset  int64 // stream offset (bytes after the SYN, or after the first seen byte for mid-stream)
	Len     int64
	At      FrameRef // the frame at which the gap was noticed
	Snaplen bool     // the bytes crossed the wire but the capture's snaplen cut them
}

// Teardown describes the first FIN or RST of a connection.
type Teardown struct {
	By   Side
	Kind CloseKind
	At   FrameRef

	// SinceOwnData is the time from the closing side's last payload to its
	// close; HasOwnData is false if it never sent any.
	SinceOwnData time.Duration
	HasOwnData   bool
	// SincePeerData is the time from the peer's last payload to the close;
	// HasPeerData is false if the peer never sent any.
	SincePeerData time.Duration
	HasPeerData   bool

	// PeerUnacked is how many payload bytes the peer had sent that the
	// closing side had not acknowledged when it closed.
	PeerUnacked int64
	// PeerUnanswered is true when the peer's last payload came after the
	// closing side's last payload: a request outstanding, not yet answered.
	PeerUnanswered bool

	// Peer is how the other side ended it, if it did (Kind CloseNone if not).
	PeerKind CloseKind
	PeerAt   FrameRef
}

// Conn is one TCP connection as seen in the capture, in capture time.
type Conn struct {
	ID     uint64 // 1-based, in order of the connection's first packet
	Client netip.AddrPort
	Server netip.AddrPort

	First FrameRef  // first packet of the connection
	Last  time.Time // last packet of the connection

	Handshake Handshake
	// SYNs is how many SYNs the client sent (1 + retransmissions);
	// SYNSpan is from the first to the last of them.
	SYNs    int
	SYNSpan time.Duration
	// SYNACK is the frame of the server's SYN-ACK (or of its RST refusing the SYN).
	SYNACK FrameRef
	// RTT is the time from the (last) SYN to the SYN-ACK, when both were seen.
	RTT time.Duration

	Bytes    [2]int64 // payload bytes per Dir, from sequence space (includes bytes in gaps)
	Packets  [2]int64 // packets per Dir
	LastData [2]time.Time

	Gaps     []Gap    // the first gaps, at most MaxGapsKept
	GapBytes [2]int64 // total missing bytes per Dir
	GapCount int      // all gaps, including those not kept

	// Turns counts client data bursts (requests, on HTTP): new client bytes
	// after new server bytes, or the first client bytes. LastIdle and MaxIdle
	// are the idle times (since the previous payload either way) before the
	// last and the longest turn after the first: a reused connection.
	Turns    int
	LastIdle time.Duration
	MaxIdle  time.Duration

	Teardown Teardown
	// Closed is how each side ended the connection, by the Dir it sends
	// in (Closed[ClientToServer] is the client's): a RST after a FIN
	// overrides the FIN, as in Zeek's endpoint states.
	Closed [2]CloseKind
	// Expired is true when the tracker released the connection because it was
	// idle past Options.IdleTimeout, Shed when it was evicted by Options.MaxConns,
	// Unfinished when the input ended while it was still open.
	Expired    bool
	Shed       bool
	Unfinished bool
}
