package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Filter selects packets with a subset of tcpdump's filter syntax, applied
// to decoded TCP segments (so "tcp" always matches and "udp" is refused):
//
//	host H, src host H, dst host H       (IPv4 or IPv6 address; no names)
//	net CIDR, src net CIDR, dst net CIDR (also net 10, net 10.1, net 10.1.2)
//	port N, src port N, dst port N, portrange A-B (with src/dst too)
//	tcp, ip, ip6                         (ip and ip6 select the address family)
//	and &&, or ||, not !, parentheses (and, or: equal precedence, left to right)
//
// As in tcpdump, a bare value takes the qualifiers of the primitive before
// it: "host a or b" is "host a or host b", "port 80 or 8080" is "port 80 or
// port 8080"; a protocol may prefix a primitive: "tcp port 80", "ip host x".
type Filter struct {
	expr string
	root node
}

// ParseFilter parses a tcpdump-style filter expression. An empty
// expression matches everything.
func ParseFilter(expr string) (*Filter, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	f := &Filter{expr: expr, root: matchAll{}}
	if len(toks) == 0 {
		return f, nil
	}
	p := &parser{toks: toks}
	n, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	f.root = n
	return f, nil
}

// Match reports whether p passes the filter. A nil Filter matches all.
func (f *Filter) Match(p *Packet) bool {
	if f == nil {
		return true
	}
	return f.root.match(p)
}

// String returns the expression the filter was parsed from.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.expr
}

const filterHelp = "supported: host, net, port, portrange, optionally after src or dst; tcp, ip, ip6; and (&&), or (||), not (!), parentheses"

// maxFilterDepth bounds nesting so a hostile expression cannot exhaust the stack.
const maxFilterDepth = 64

type node interface{ match(p *Packet) bool }

type (
	matchAll struct{}
	andNode  struct{ a, b node }
	orNode   struct{ a, b node }
	notNode  struct{ a node }
	famNode  struct{ v6 bool }
	hostNode struct {
		dir  dir
		addr netip.Addr
	}
	netNode struct {
		dir dir
		net netip.Prefix
	}
	portNode struct {
		dir    dir
		lo, hi uint16
	}
)

type dir uint8

const (
	either dir = iota
	src
	dst
)

func (matchAll) match(*Packet) bool    { return true }
func (n andNode) match(p *Packet) bool { return n.a.match(p) && n.b.match(p) }
func (n orNode) match(p *Packet) bool  { return n.a.match(p) || n.b.match(p) }
func (n notNode) match(p *Packet) bool { return !n.a.match(p) }
func (n famNode) match(p *Packet) bool { return p.Src.Addr().Is6() == n.v6 }

func (n hostNode) match(p *Packet) bool {
	return n.dir != dst && p.Src.Addr() == n.addr || n.dir != src && p.Dst.Addr() == n.addr
}

func (n netNode) match(p *Packet) bool {
	return n.dir != dst && n.net.Contains(p.Src.Addr()) || n.dir != src && n.net.Contains(p.Dst.Addr())
}

func (n portNode) match(p *Packet) bool {
	in := func(port uint16) bool { return n.lo <= port && port <= n.hi }
	return n.dir != dst && in(p.Src.Port()) || n.dir != src && in(p.Dst.Port())
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, s[i:i+1])
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, s[i:i+2])
			i += 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d; %s", c, i, filterHelp)
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_' || c == '%'
}

// qualifiers of the last primitive, inherited by a bare value after it.
type quals struct {
	set   bool
	proto string // "", "ip", "ip6", "tcp"
	dir   dir
	kind  string // "host", "net", "port", "portrange"
}

type parser struct {
	toks  []string
	pos   int
	depth int
	last  quals
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return strings.ToLower(p.toks[p.pos])
	}
	return ""
}

// or parses a chain of primitives joined by "and" and "or". As in tcpdump,
// the two have equal precedence and associate left to right: "a or b and c"
// is "(a or b) and c".
func (p *parser) or() (node, error) {
	n, err := p.unary()
	for err == nil {
		op := p.peek()
		if op != "and" && op != "&&" && op != "or" && op != "||" {
			break
		}
		p.pos++
		var m node
		if m, err = p.unary(); err == nil {
			if op == "and" || op == "&&" {
				n = andNode{n, m}
			} else {
				n = orNode{n, m}
			}
		}
	}
	return n, err
}

func (p *parser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, errors.New("expression nested too deeply")
	}
	switch t := p.peek(); t {
	case "not", "!":
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case "(":
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errors.New("missing )")
		}
		p.pos++
		return n, nil
	case "":
		return nil, errors.New("expression ends too early")
	}
	return p.primitive()
}

func (p *parser) primitive() (node, error) {
	var q quals
	start := p.pos
	t := p.peek()
	switch t {
	case "tcp", "ip", "ip6":
		q.proto = t
		p.pos++
		t = p.peek()
	case "udp", "icmp", "icmp6", "arp", "sctp", "ether", "vlan":
		return nil, fmt.Errorf("%q is not supported: only TCP segments are decoded; %s", t, filterHelp)
	}
	switch t {
	case "src":
		q.dir = src
		p.pos++
	case "dst":
		q.dir = dst
		p.pos++
	}
	switch t = p.peek(); t {
	case "host", "net", "port", "portrange":
		q.kind = t
		p.pos++
	default:
		if q.dir != either {
			q.kind = "host" // tcpdump: "src 10.0.0.1" is "src host 10.0.0.1"
		}
	}
	if q.kind == "" {
		if q.proto != "" {
			// A protocol alone: "tcp", "ip6".
			return protoNode(q.proto), nil
		}
		if p.pos == start && p.last.set && t != "" && isValue(t) {
			q = p.last // bare value: "host a or b"
		} else if t == "" {
			return nil, errors.New("expression ends too early")
		} else {
			return nil, fmt.Errorf("unsupported word %q; %s", p.toks[p.pos], filterHelp)
		}
	}
	if p.pos >= len(p.toks) || !isValue(p.peek()) {
		return nil, fmt.Errorf("%s needs a value", q.kind)
	}
	val := p.toks[p.pos]
	p.pos++
	n, err := valueNode(q, val)
	if err != nil {
		return nil, err
	}
	q.set = true
	p.last = q
	if q.proto != "" {
		n = andNode{protoNode(q.proto), n}
	}
	return n, nil
}

func protoNode(proto string) node {
	switch proto {
	case "ip":
		return famNode{v6: false}
	case "ip6":
		return famNode{v6: true}
	}
	return matchAll{} // every decoded packet is TCP
}

// isValue reports whether a token can be a value rather than a keyword or
// operator.
func isValue(t string) bool {
	switch t {
	case "", "(", ")", "!", "&&", "||", "and", "or", "not", "host", "net", "port", "portrange", "src", "dst", "tcp", "ip", "ip6":
		return false
	}
	return true
}

func valueNode(q quals, val string) (node, error) {
	switch q.kind {
	case "host":
		a, err := netip.ParseAddr(val)
		if err != nil {
			return nil, fmt.Errorf("host %q: not an IP address (names are not resolved)", val)
		}
		return hostNode{q.dir, a.WithZone("")}, nil
	case "net":
		pf, err := parseNet(val)
		if err != nil {
			return nil, err
		}
		return netNode{q.dir, pf}, nil
	case "port":
		n, err := strconv.ParseUint(val, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("port %q: want a number from 0 to 65535 (service names are not supported)", val)
		}
		return portNode{q.dir, uint16(n), uint16(n)}, nil
	case "portrange":
		a, b, ok := strings.Cut(val, "-")
		lo, err1 := strconv.ParseUint(a, 10, 16)
		hi, err2 := strconv.ParseUint(b, 10, 16)
		if !ok || err1 != nil || err2 != nil || lo > hi {
			return nil, fmt.Errorf("portrange %q: want LOW-HIGH, e.g. 8000-8080", val)
		}
		return portNode{q.dir, uint16(lo), uint16(hi)}, nil
	}
	return nil, fmt.Errorf("unsupported qualifier %q; %s", q.kind, filterHelp)
}

// parseNet parses CIDR notation or tcpdump's shorthand for classful
// networks: "10" is 10.0.0.0/8, "10.1" is 10.1.0.0/16, "10.1.2" 10.1.2.0/24.
func parseNet(val string) (netip.Prefix, error) {
	if pf, err := netip.ParsePrefix(val); err == nil {
		return pf.Masked(), nil
	}
	if a, err := netip.ParseAddr(val); err == nil {
		return netip.PrefixFrom(a.WithZone(""), a.BitLen()), nil
	}
	parts := strings.Split(val, ".")
	if len(parts) <= 3 {
		var b [4]byte
		ok := true
		for i, s := range parts {
			n, err := strconv.ParseUint(s, 10, 8)
			if err != nil {
				ok = false
				break
			}
			b[i] = byte(n)
		}
		if ok {
			return netip.PrefixFrom(netip.AddrFrom4(b), 8*len(parts)), nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("net %q: want CIDR notation such as 10.0.0.0/8 or 2001:db8::/32", val)
}
