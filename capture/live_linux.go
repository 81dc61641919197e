package capture

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// OpenLive captures on the named interfaces, or on all of them with "any",
// with AF_PACKET sockets and TPACKET_V3 rings (no libpcap). The filter runs
// in the kernel. Packets from several interfaces come out merged in time
// order. Close stops the capture.
func OpenLive(ifaces []string, opts LiveOptions) (*Reader, error) {
	if len(ifaces) == 0 {
		return nil, errors.New("no interface given")
	}
	seen := map[string]bool{}
	for _, name := range ifaces {
		if name == "any" && len(ifaces) > 1 {
			return nil, errors.New(`interface "any" captures on every interface: give it alone`)
		}
		if seen[name] {
			return nil, fmt.Errorf("interface %q given twice", name)
		}
		seen[name] = true
	}
	snaplen := uint32(maxSnaplen)
	if opts.Snaplen > 0 {
		snaplen = uint32(min(opts.Snaplen, maxSnaplen))
	}
	if opts.Filter != nil && opts.BPF == nil {
		// Fail on an expression the compiler cannot take before asking
		// for sockets, whatever the interfaces' link types.
		if _, err := compileBPF(opts.Filter, linkEthernet, snaplen); err != nil {
			return nil, fmt.Errorf("filter %q: %w", opts.Filter, err)
		}
	}
	lo := loopbackIndex()
	var srcs []*liveSource
	closeAll := func() {
		for _, s := range srcs {
			s.src.close()
		}
	}
	for _, name := range ifaces {
		s, err := openSocket(name, lo, snaplen, opts)
		if err != nil {
			closeAll()
			return nil, err
		}
		srcs = append(srcs, s)
	}
	r := &Reader{opts: Options{Filter: opts.Filter}, lastNs: math.MinInt64}
	if err := r.startLive(srcs, opts); err != nil {
		closeAll()
		return nil, err
	}
	return r, nil
}

// ARPHRD_ device types whose frames start with an Ethernet header.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// openSocket opens and filters one socket. Ethernet and loopback devices
// are read with SOCK_RAW, so frames keep their Ethernet header (and VLAN
// tags the NIC left in place); "any" and other devices (tunnels, WireGuard,
// PPP) with SOCK_DGRAM, so every frame starts with its IP header.
func openSocket(name string, lo int, snaplen uint32, opts LiveOptions) (*liveSource, error) {
	s := &liveSource{name: name, link: linkRaw}
	buf := opts.BufferSize
	if buf <= 0 {
		buf = liveBufferSize
	}
	tpOpts := []any{
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptBlockTimeout(liveBlockTimeout),
		afpacket.OptPollTimeout(liveReadTimeout),
		afpacket.OptBlockSize(liveBlockSize),
		afpacket.OptNumBlocks(max(buf/liveBlockSize, 2)),
	}
	ifindex := 0
	kernelLink := uint32(linkCooked)
	if name != "any" {
		in, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("interface %q not found (available: %s)", name, availableInterfaces())
		}
		ifindex = in.Index
		tpOpts = append(tpOpts, afpacket.OptInterface(name))
		if t := deviceType(name); t == arphrdEther || t == arphrdLoopback {
			s.link, kernelLink = linkEthernet, linkEthernet
		}
	}
	if kernelLink == linkCooked {
		tpOpts = append(tpOpts, afpacket.SocketDgram)
	}
	prog := opts.BPF
	if prog == nil {
		insns, err := compileBPF(opts.Filter, kernelLink, snaplen)
		if err == nil {
			prog, err = bpf.Assemble(insns)
		}
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", opts.Filter, err)
		}
	}
	prog, err := skipLoopbackOutgoing(prog, ifindex, lo)
	if err != nil {
		return nil, err
	}
	tp, err := afpacket.NewTPacket(tpOpts...)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("live capture needs root or CAP_NET_RAW: open %s: %w", name, err)
		}
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if err := tp.SetBPF(prog); err != nil {
		tp.Close()
		return nil, fmt.Errorf("%s: attach the BPF filter: %w", name, err)
	}
	// Packets that arrived between the socket's creation and the filter's
	// attachment were not filtered: drop them.
	base, err := drain(tp)
	if err != nil {
		tp.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if opts.Promiscuous && name != "any" {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, fmt.Errorf("%s: promiscuous mode: %w", name, err)
		}
	}
	s.src = &tpacketSource{tp: tp, base: base}
	return s, nil
}

// drain discards what the ring holds, and returns the kernel's counters
// then, which counted those packets too.
func drain(tp *afpacket.TPacket) (InterfaceStats, error) {
	// The ring hands packets over in blocks retired after liveBlockTimeout:
	// wait that long so that the block open at attachment is read too.
	deadline := time.Now().Add(2 * liveBlockTimeout)
	for time.Now().Before(deadline) {
		_, _, err := tp.ZeroCopyReadPacketData()
		if err == afpacket.ErrTimeout {
			continue
		}
		if err != nil {
			return InterfaceStats{}, err
		}
	}
	return (&tpacketSource{tp: tp}).stats()
}

// skipLoopbackOutgoing prefixes prog with a test that rejects packets
// sent on the loopback device: the device receives each of them right
// after, and would show it twice. libpcap does the same. bound is the
// socket's interface (0 for "any"), lo the loopback's index.
func skipLoopbackOutgoing(prog []bpf.RawInstruction, bound, lo int) ([]bpf.RawInstruction, error) {
	if lo <= 0 || bound != 0 && bound != lo {
		return prog, nil
	}
	const packetOutgoing = 4
	var pre []bpf.Instruction
	if bound == lo {
		pre = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		}
	} else {
		pre = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 3},
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(lo), SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		}
	}
	raw, err := bpf.Assemble(pre)
	if err != nil {
		return nil, err
	}
	if len(raw)+len(prog) > maxInstructions {
		return nil, fmt.Errorf("BPF program too long: %d instructions (at most %d)", len(raw)+len(prog), maxInstructions)
	}
	return append(raw, prog...), nil
}

func loopbackIndex() int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0
	}
	for _, in := range ifs {
		if in.Flags&net.FlagLoopback != 0 {
			return in.Index
		}
	}
	return 0
}

// deviceType returns the interface's ARPHRD_ type, -1 if unknown.
func deviceType(name string) int {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return -1
	}
	t, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return t
}

func availableInterfaces() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return "cannot list them: " + err.Error()
	}
	names := []string{"any"}
	for _, in := range ifs {
		names = append(names, in.Name)
	}
	return strings.Join(names, ", ")
}

// interfaceName names an interface index, for packets captured on "any".
func interfaceName(ifindex int) string {
	if in, err := net.InterfaceByIndex(ifindex); err == nil {
		return in.Name
	}
	return "if" + strconv.Itoa(ifindex)
}

// tpacketSource reads an afpacket ring.
type tpacketSource struct {
	tp   *afpacket.TPacket
	base InterfaceStats // counters before the filter was in place
}

func (t *tpacketSource) read() ([]byte, time.Time, int, int, error) {
	data, ci, err := t.tp.ZeroCopyReadPacketData()
	if err == afpacket.ErrTimeout {
		return nil, time.Time{}, 0, 0, errReadTimeout
	}
	if errors.Is(err, unix.EINTR) {
		return nil, time.Time{}, 0, 0, errReadTimeout
	}
	return data, ci.Timestamp, ci.Length, ci.InterfaceIndex, err
}

func (t *tpacketSource) stats() (InterfaceStats, error) {
	_, v3, err := t.tp.SocketStats()
	if err != nil {
		return InterfaceStats{}, err
	}
	return InterfaceStats{
		Packets:      uint64(v3.Packets()) - t.base.Packets,
		Drops:        uint64(v3.Drops()) - t.base.Drops,
		QueueFreezes: uint64(v3.QueueFreezes()) - t.base.QueueFreezes,
	}, nil
}

func (t *tpacketSource) close() { t.tp.Close() }
