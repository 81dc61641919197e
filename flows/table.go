package flows

import "net/netip"

// table finds a connection by its 4-tuple, in either direction.
//
// The map, keyed by the 4-tuple, is the truth, but ordering two
// netip.AddrPorts so that both directions find the same key, then hashing
// them with the map's generic hash, was a fifth of a packet's cost. So a
// small cache indexed by the two ports, which tell apart the connections
// to one server, is tried first; an entry is used only if its endpoints
// are the packet's, so a collision (or a crafted capture) costs a map
// lookup, never a wrong answer.
type table struct {
	m      map[key]*conn
	recent [1 << recentBits]*conn
}

const recentBits = 10

// key identifies a 4-tuple regardless of direction: a is the lesser
// endpoint, so both directions of a connection find the same entry. It is
// a comparable value; formatting addresses into strings would allocate on
// every packet.
type key struct{ a, b netip.AddrPort }

func makeKey(src, dst netip.AddrPort) key {
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	return key{src, dst}
}

func newTable() table {
	return table{m: make(map[key]*conn)}
}

// slot is where recent holds the connection between a and b, the same
// both ways: a multiplicative hash of the ports' XOR, which differs for
// every client port against the same server port.
func slot(a, b netip.AddrPort) int {
	return int(uint32(a.Port()^b.Port()) * 0x9e3779b1 >> (32 - recentBits))
}

// find returns the connection between src and dst, or nil, and the
// direction of src to dst on it.
func (tb *table) find(src, dst netip.AddrPort) (*conn, Dir) {
	i := slot(src, dst)
	if c := tb.recent[i]; c != nil {
		if c.Client == src && c.Server == dst {
			return c, ClientToServer
		}
		if c.Client == dst && c.Server == src {
			return c, ServerToClient
		}
	}
	c := tb.m[makeKey(src, dst)]
	if c == nil {
		return nil, 0
	}
	tb.recent[i] = c
	return c, c.dirFrom(src)
}

// dirFrom is the direction of data that src sends on c.
func (c *conn) dirFrom(src netip.AddrPort) Dir {
	if src != c.Client {
		return ServerToClient
	}
	return ClientToServer
}

// add puts c, whose endpoints are set, in the table.
func (tb *table) add(c *conn) {
	tb.m[makeKey(c.Client, c.Server)] = c
	tb.recent[slot(c.Client, c.Server)] = c
}

func (tb *table) remove(c *conn) {
	delete(tb.m, makeKey(c.Client, c.Server))
	if i := slot(c.Client, c.Server); tb.recent[i] == c {
		tb.recent[i] = nil
	}
}

func (tb *table) len() int { return len(tb.m) }

// all returns every connection in the table, in no particular order.
func (tb *table) all() []*conn {
	all := make([]*conn, 0, len(tb.m))
	for _, c := range tb.m {
		all = append(all, c)
	}
	return all
}
