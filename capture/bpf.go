package capture

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// CompileBPF compiles f to a classic BPF program for frames of the given
// link type (a LINKTYPE_ number: Ethernet, Linux SLL, SLL2 or raw IP), for
// the kernel to run on a capture socket. The program keeps snaplen bytes of
// each frame it accepts.
//
// It accepts exactly the frames that Reader would decode as a TCP segment
// and that f matches, with two exceptions, both rejected in the kernel:
// IPv6 packets whose TCP header follows extension headers (tcpdump's "tcp"
// and "port" reject them too) and frames with more than two VLAN tags. A nil
// f compiles to "every TCP segment". IP fragments are rejected: they are
// not decoded anyway.
func CompileBPF(f *Filter, link uint32, snaplen uint32) ([]bpf.RawInstruction, error) {
	prog, err := compileBPF(f, link, snaplen)
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(prog)
}

// linkCooked is not a LINKTYPE_: it is what a SOCK_DGRAM packet socket
// delivers, the network header first with its EtherType available only as
// the kernel's skb->protocol (SKF_AD_PROTOCOL).
const linkCooked = 1 << 31

// Scratch memory slots used by the programs.
const (
	memL3    = 0 // offset of the network header
	memL4    = 1 // offset of the TCP header
	memIHL   = 2 // IPv4 header length
	memTotal = 3 // IPv4 total length or IPv6 payload length
)

func compileBPF(f *Filter, link uint32, snaplen uint32) ([]bpf.Instruction, error) {
	if snaplen == 0 {
		snaplen = maxSnaplen
	}
	root := node(matchAll{})
	if f != nil {
		root = f.root
	}
	a := &asm{}
	accept, reject, v4, v6 := a.label(), a.label(), a.label(), a.label()
	switch link {
	case linkEthernet:
		a.etherTypes(12, 14, v4, v6, reject)
	case linkSLL:
		a.etherTypes(14, 16, v4, v6, reject)
	case linkSLL2:
		a.etherTypes(0, 20, v4, v6, reject)
	case linkRaw, linkRaw12, linkIPv4, linkIPv6:
		a.op(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
		a.op(bpf.StoreScratch{Src: bpf.RegX, N: memL3})
		a.op(bpf.LoadAbsolute{Off: 0, Size: 1})
		a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		a.jeq(0x40, v4, -1)
		a.jeq(0x60, v6, reject)
	case linkCooked:
		a.op(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
		a.op(bpf.StoreScratch{Src: bpf.RegX, N: memL3})
		a.op(bpf.LoadExtension{Num: bpf.ExtProto})
		a.jeq(etherIPv4, v4, -1)
		a.jeq(etherIPv6, v6, reject)
	default:
		return nil, fmt.Errorf("no BPF compiler for link type %d (%s); kernel filters are compiled for Ethernet, Linux SLL and SLL2, raw IP", link, linkName(link))
	}

	a.mark(v4)
	a.ipv4Checks(reject)
	if err := a.expr(root, false, accept, reject); err != nil {
		return nil, err
	}
	a.mark(v6)
	a.ipv6Checks(reject)
	if err := a.expr(root, true, accept, reject); err != nil {
		return nil, err
	}
	a.mark(accept)
	a.op(bpf.RetConstant{Val: snaplen})
	a.mark(reject)
	a.op(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// etherTypes reads the EtherType at off, the network header following at
// l3, skipping up to two VLAN tags as the decoder does, and jumps to v4 or
// v6 with the network header offset in X and in memL3.
func (a *asm) etherTypes(off, l3 uint32, v4, v6, reject int) {
	for tags := 0; tags <= 2; tags++ {
		next := a.label()
		a.op(bpf.LoadAbsolute{Off: off, Size: 2})
		a.op(bpf.LoadConstant{Dst: bpf.RegX, Val: l3})
		a.op(bpf.StoreScratch{Src: bpf.RegX, N: memL3})
		a.jeq(etherIPv4, v4, -1)
		a.jeq(etherIPv6, v6, -1)
		if tags == 2 {
			a.ja(reject)
			break
		}
		a.jeq(etherDot1Q, next, -1)
		a.jeq(etherQinQ, next, -1)
		a.jeq(etherQinQ2, next, reject)
		a.mark(next)
		off, l3 = l3+2, l3+4
	}
}

// ipv4Checks rejects what decodeIPv4 and decodeTCP would not return as a
// TCP segment, and leaves the TCP header offset in memL4. X holds the
// network header offset.
func (a *asm) ipv4Checks(reject int) {
	tot := a.label()
	a.op(bpf.LoadIndirect{Off: 0, Size: 1})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	a.jeq(0x40, -1, reject)
	a.op(bpf.LoadIndirect{Off: 0, Size: 1})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	a.jge(20, -1, reject)
	a.op(bpf.StoreScratch{Src: bpf.RegA, N: memIHL})
	a.op(bpf.LoadIndirect{Off: 6, Size: 2})
	a.jset(0x3fff, reject, -1) // more fragments, or a fragment offset
	a.op(bpf.LoadIndirect{Off: 9, Size: 1})
	a.jeq(ipProtoTCP, -1, reject)
	// Total length; 0 (segmentation offload) means the rest of the frame.
	a.op(bpf.LoadIndirect{Off: 2, Size: 2})
	a.jeq(0, -1, tot)
	a.op(bpf.LoadExtension{Num: bpf.ExtLen})
	a.op(bpf.ALUOpX{Op: bpf.ALUOpSub})
	a.mark(tot)
	a.op(bpf.StoreScratch{Src: bpf.RegA, N: memTotal})
	a.op(bpf.LoadScratch{Dst: bpf.RegA, N: memIHL})
	a.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	a.op(bpf.StoreScratch{Src: bpf.RegA, N: memL4})
	a.tcpChecks(memIHL, reject)
}

// ipv6Checks is ipv4Checks for IPv6: TCP must follow the fixed header.
func (a *asm) ipv6Checks(reject int) {
	tot := a.label()
	a.op(bpf.LoadIndirect{Off: 0, Size: 1})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	a.jeq(0x60, -1, reject)
	a.op(bpf.LoadIndirect{Off: 6, Size: 1})
	a.jeq(ipProtoTCP, -1, reject)
	a.op(bpf.LoadIndirect{Off: 39, Size: 1}) // the fixed header was captured
	// Payload length; 0 (jumbogram, offload) means the rest of the frame.
	a.op(bpf.LoadIndirect{Off: 4, Size: 2})
	a.jeq(0, -1, tot)
	a.op(bpf.LoadExtension{Num: bpf.ExtLen})
	a.op(bpf.ALUOpX{Op: bpf.ALUOpSub})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 40})
	a.mark(tot)
	a.op(bpf.StoreScratch{Src: bpf.RegA, N: memTotal})
	a.op(bpf.LoadConstant{Dst: bpf.RegA, Val: 0})
	a.op(bpf.StoreScratch{Src: bpf.RegA, N: memIHL})
	a.op(bpf.TXA{})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 40})
	a.op(bpf.StoreScratch{Src: bpf.RegA, N: memL4})
	a.tcpChecks(memIHL, reject)
}

// tcpChecks expects the TCP header offset in A and memL4, and the IP
// header length (0 for IPv6, whose memTotal excludes it) in scratch ihl:
// the 20-byte header must be captured and its data offset must be at least
// 20 and fit in the IP payload.
func (a *asm) tcpChecks(ihl int, reject int) {
	a.op(bpf.TAX{})
	a.op(bpf.LoadIndirect{Off: 19, Size: 1})
	a.op(bpf.LoadIndirect{Off: 12, Size: 1})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	a.jge(20, -1, reject)
	a.op(bpf.LoadScratch{Dst: bpf.RegX, N: ihl})
	a.op(bpf.ALUOpX{Op: bpf.ALUOpAdd}) // data offset + IP header length
	a.op(bpf.TAX{})
	a.op(bpf.LoadScratch{Dst: bpf.RegA, N: memTotal})
	a.jgex(-1, reject) // total >= header lengths
}

// expr emits code for n on the IPv4 (v6 false) or IPv6 path, jumping to t
// when it holds and to f when it does not.
func (a *asm) expr(n node, v6 bool, t, f int) error {
	switch n := n.(type) {
	case matchAll:
		a.ja(t)
	case famNode:
		if n.v6 == v6 {
			a.ja(t)
		} else {
			a.ja(f)
		}
	case notNode:
		return a.expr(n.a, v6, f, t)
	case andNode:
		mid := a.label()
		if err := a.expr(n.a, v6, mid, f); err != nil {
			return err
		}
		a.mark(mid)
		return a.expr(n.b, v6, t, f)
	case orNode:
		mid := a.label()
		if err := a.expr(n.a, v6, t, mid); err != nil {
			return err
		}
		a.mark(mid)
		return a.expr(n.b, v6, t, f)
	case hostNode:
		a.addrs(n.dir, netip.PrefixFrom(n.addr, n.addr.BitLen()), v6, t, f)
	case netNode:
		a.addrs(n.dir, n.net, v6, t, f)
	case portNode:
		a.op(bpf.LoadScratch{Dst: bpf.RegX, N: memL4})
		if n.dir != dst {
			next := f
			if n.dir == either {
				next = a.label()
			}
			a.op(bpf.LoadIndirect{Off: 0, Size: 2})
			a.portRange(n.lo, n.hi, t, next)
			if n.dir == either {
				a.mark(next)
			}
		}
		if n.dir != src {
			a.op(bpf.LoadIndirect{Off: 2, Size: 2})
			a.portRange(n.lo, n.hi, t, f)
		}
	default:
		return fmt.Errorf("no BPF for filter element %T", n)
	}
	return nil
}

func (a *asm) portRange(lo, hi uint16, t, f int) {
	if lo == hi {
		a.jeq(uint32(lo), t, f)
		return
	}
	a.jge(uint32(lo), -1, f)
	a.jgt(uint32(hi), f, t)
}

// addrs emits a test of the source and/or destination address against
// prefix p. A prefix of the other family never matches.
func (a *asm) addrs(d dir, p netip.Prefix, v6 bool, t, f int) {
	if p.Addr().Is6() != v6 {
		a.ja(f)
		return
	}
	srcOff, dstOff := uint32(12), uint32(16)
	if v6 {
		srcOff, dstOff = 8, 24
	}
	a.op(bpf.LoadScratch{Dst: bpf.RegX, N: memL3})
	if d != dst {
		next := f
		if d == either {
			next = a.label()
		}
		a.prefix(srcOff, p, t, next)
		if d == either {
			a.mark(next)
		}
	}
	if d != src {
		a.prefix(dstOff, p, t, f)
	}
}

// prefix compares the address at offset off (from X) with p, 32 bits at a
// time.
func (a *asm) prefix(off uint32, p netip.Prefix, t, f int) {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	if bits == 0 {
		a.ja(t)
		return
	}
	for i := 0; i < len(b) && bits > 0; i += 4 {
		word := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
		a.op(bpf.LoadIndirect{Off: off + uint32(i), Size: 4})
		if bits < 32 {
			mask := ^uint32(0) << (32 - bits)
			a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
			word &= mask
		}
		bits -= 32
		if bits <= 0 {
			a.jeq(word, t, f)
		} else {
			a.jeq(word, -1, f)
		}
	}
}

// asm collects instructions whose jumps name labels, resolved by assemble.
type asm struct {
	items  []item
	labels []int // label -> index in items of its mark, -1 until marked
}

// item is an instruction, a conditional or unconditional jump to labels,
// or a label's position (mark >= 0).
type item struct {
	ins     bpf.Instruction
	cond    bpf.JumpTest
	val     uint32
	x       bool // compare with X rather than val
	jump    bool // conditional jump to t/f
	ja      bool // unconditional jump to t
	t, f    int
	mark    int
	isLabel bool
}

func (a *asm) label() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

func (a *asm) mark(l int) {
	a.labels[l] = len(a.items)
	a.items = append(a.items, item{isLabel: true, mark: l})
}

func (a *asm) op(ins bpf.Instruction) { a.items = append(a.items, item{ins: ins}) }

// fall turns the jump target -1, "the next instruction", into a label to
// mark after the jump.
func (a *asm) fall(l int) (int, bool) {
	if l >= 0 {
		return l, false
	}
	return a.label(), true
}

func (a *asm) cj(cond bpf.JumpTest, val uint32, x bool, t, f int) {
	t, tf := a.fall(t)
	f, ff := a.fall(f)
	a.items = append(a.items, item{jump: true, cond: cond, val: val, x: x, t: t, f: f})
	if tf {
		a.mark(t)
	}
	if ff {
		a.mark(f)
	}
}

func (a *asm) jeq(v uint32, t, f int)  { a.cj(bpf.JumpEqual, v, false, t, f) }
func (a *asm) jge(v uint32, t, f int)  { a.cj(bpf.JumpGreaterOrEqual, v, false, t, f) }
func (a *asm) jgt(v uint32, t, f int)  { a.cj(bpf.JumpGreaterThan, v, false, t, f) }
func (a *asm) jset(v uint32, t, f int) { a.cj(bpf.JumpBitsSet, v, false, t, f) }
func (a *asm) jgex(t, f int)           { a.cj(bpf.JumpGreaterOrEqual, 0, true, t, f) }
func (a *asm) ja(t int)                { a.items = append(a.items, item{ja: true, t: t}) }

// maxInstructions is the kernel's BPF_MAXINSNS.
const maxInstructions = 4096

// assemble resolves labels. A conditional jump reaches at most 255
// instructions ahead; a farther target goes through an unconditional jump
// inserted right after it.
func (a *asm) assemble() ([]bpf.Instruction, error) {
	for {
		pos := make([]int, len(a.items)+1) // instruction index of each item
		n := 0
		for i, it := range a.items {
			pos[i] = n
			if !it.isLabel {
				n++
			}
		}
		pos[len(a.items)] = n
		if n > maxInstructions {
			return nil, fmt.Errorf("filter too long for the kernel: %d BPF instructions (at most %d)", n, maxInstructions)
		}
		target := func(l int) int { return pos[a.labels[l]] }
		grew := false
		for i := 0; i < len(a.items); i++ {
			it := a.items[i]
			if !it.jump {
				continue
			}
			far := func(l int) bool { return target(l)-pos[i]-1 > 255 }
			if !far(it.t) && !far(it.f) {
				continue
			}
			// Insert "ja t; ja f" trampolines after the jump.
			var add []item
			for _, l := range []*int{&a.items[i].t, &a.items[i].f} {
				if far(*l) {
					tr := a.label()
					add = append(add, item{isLabel: true, mark: tr}, item{ja: true, t: *l})
					*l = tr
				}
			}
			a.items = append(a.items[:i+1], append(add, a.items[i+1:]...)...)
			for j, it := range a.items {
				if it.isLabel {
					a.labels[it.mark] = j
				}
			}
			grew = true
			break
		}
		if grew {
			continue
		}
		prog := make([]bpf.Instruction, 0, n)
		for i, it := range a.items {
			switch {
			case it.isLabel:
			case it.ja:
				prog = append(prog, bpf.Jump{Skip: uint32(target(it.t) - pos[i] - 1)})
			case it.jump:
				st, sf := uint8(target(it.t)-pos[i]-1), uint8(target(it.f)-pos[i]-1)
				if it.x {
					prog = append(prog, bpf.JumpIfX{Cond: it.cond, SkipTrue: st, SkipFalse: sf})
				} else {
					prog = append(prog, bpf.JumpIf{Cond: it.cond, Val: it.val, SkipTrue: st, SkipFalse: sf})
				}
			default:
				prog = append(prog, it.ins)
			}
		}
		if len(prog) == 0 {
			return nil, errors.New("empty BPF program")
		}
		return prog, nil
	}
}
