// Package flows tracks TCP connections in a stream of captured packets:
// handshake outcome, reassembled data in each direction with its gaps, who
// closed the connection and how. Time is the capture's, never the wall
// clock's; memory grows with concurrent connections, not with input size.
//
// It knows nothing of HTTP: a Handler receives the in-order bytes of each
// direction and decides what they mean.
//
// A Tracker keys connections by their 4-tuple. Closed connections linger
// briefly (Options.Linger) to absorb late ACKs and retransmitted RSTs; a
// SYN with a new ISN on the same 4-tuple starts a new connection (port
// reuse). Idle connections expire after Options.IdleTimeout and the
// least recently active are shed beyond Options.MaxConns, both checked at
// each packet in O(1). Bytes the capture lacks are reported as gaps once
// the peer's ACK, a RST, a full reorder buffer or the connection's end
// shows they will not come.
//
// The package flowtest builds packet sequences for tests.
package flows
