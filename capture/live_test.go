//go:build linux

package capture_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"why502/capture"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (or CAP_NET_RAW): run the tests as root to include it")
	}
}

// loopTraffic opens a listener on loopback and makes n connections to it,
// each sending "hello" and reading it back; it returns the port.
func loopTraffic(t *testing.T, n int) (port int, run func()) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Second))
				io.Copy(c, io.LimitReader(c, 5))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, func() {
		for range n {
			c, err := net.DialTimeout("tcp4", ln.Addr().String(), time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("hello"))
			io.ReadFull(c, make([]byte, 5))
			c.Close()
		}
	}
}

// collect reads r until stop says it has enough or two seconds pass,
// copying the packets.
func collect(t *testing.T, r *capture.Reader, stop func([]capture.Packet) bool) []capture.Packet {
	t.Helper()
	var pkts []capture.Packet
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && (stop == nil || !stop(pkts)) {
		p, err := r.Next()
		if errors.Is(err, capture.ErrTick) {
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		c := *p
		c.Payload = bytes.Clone(p.Payload)
		pkts = append(pkts, c)
	}
	return pkts
}

func countSYN(pkts []capture.Packet) int {
	n := 0
	for _, p := range pkts {
		if p.Flags.Has(capture.SYN) && !p.Flags.Has(capture.ACK) {
			n++
		}
	}
	return n
}

func TestLiveLoopback(t *testing.T) {
	needRoot(t)
	const conns = 5
	port, run := loopTraffic(t, conns)
	open := func(expr string) *capture.Reader {
		f, err := capture.ParseFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		r, err := capture.OpenLive([]string{"lo"}, capture.LiveOptions{Filter: f, Tick: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("OpenLive: %v", err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	r := open(fmt.Sprintf("tcp port %d", port))
	other := open(fmt.Sprintf("not port %d", port))
	start := time.Now()
	run()
	pkts := collect(t, r, func(p []capture.Packet) bool { return countFIN(p, port) >= 2*conns })

	if n := countSYN(pkts); n != conns {
		t.Errorf("SYNs:\n- want: %d (each once: loopback's outgoing copies are skipped)\n-  got: %d", conns, n)
	}
	hellos := 0
	for i, p := range pkts {
		if p.Src.Port() != uint16(port) && p.Dst.Port() != uint16(port) {
			t.Errorf("packet %d: %v > %v does not have port %d", i, p.Src, p.Dst, port)
		}
		if p.File != "lo" || p.Frame != int64(i+1) {
			t.Errorf("packet %d:\n- want: lo frame %d\n-  got: %s frame %d", i, i+1, p.File, p.Frame)
		}
		if p.Time.Before(start.Add(-time.Second)) || p.Time.After(time.Now()) {
			t.Errorf("packet %d: time %v not within the test", i, p.Time)
		}
		if i > 0 && p.Time.Before(pkts[i-1].Time) {
			t.Errorf("packet %d: time %v before the previous one's %v", i, p.Time, pkts[i-1].Time)
		}
		if string(p.Payload) == "hello" && p.Dst.Port() == uint16(port) {
			hellos++
		}
	}
	if hellos != conns {
		t.Errorf("requests:\n- want: %d\n-  got: %d", conns, hellos)
	}
	for _, p := range collect(t, other, func([]capture.Packet) bool { return time.Since(start) > 1500*time.Millisecond }) {
		if p.Src.Port() == uint16(port) || p.Dst.Port() == uint16(port) {
			t.Errorf("filter %q let through %v > %v", "not port", p.Src, p.Dst)
		}
	}
	st, err := r.LiveStats()
	if err != nil || len(st) != 1 || st[0].Name != "lo" || st[0].Packets < uint64(len(pkts)) || st[0].Drops != 0 {
		t.Errorf("LiveStats:\n- want: lo, at least %d packets, no drops\n-  got: %+v (%v)", len(pkts), st, err)
	}
	t.Logf("%d packets; kernel: %+v; reader: %+v", len(pkts), st, r.Stats())

	closed := time.Now()
	r.Close()
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after Close: want io.EOF, got %v", err)
	}
	if d := time.Since(closed); d > 500*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
}

func countFIN(pkts []capture.Packet, port int) int {
	n := 0
	for _, p := range pkts {
		if p.Flags.Has(capture.FIN) {
			n++
		}
	}
	return n
}

func TestLiveCancel(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	f, _ := capture.ParseFilter("port 1")
	r, err := capture.OpenLive([]string{"lo"}, capture.LiveOptions{Context: ctx, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after cancel: want io.EOF, got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Next returned %v after the cancel", d-100*time.Millisecond)
	}
}

func TestLiveErrors(t *testing.T) {
	_, err := capture.OpenLive([]string{"nosuch0"}, capture.LiveOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), `interface "nosuch0" not found (available: any, lo`) {
		t.Errorf("unknown interface:\n- want: interface \"nosuch0\" not found (available: any, lo...\n-  got: %v", err)
	}
	_, err = capture.OpenLive([]string{"any", "lo"}, capture.LiveOptions{})
	if want := `interface "any" captures on every interface: give it alone`; err == nil || err.Error() != want {
		t.Errorf("\n- want: %s\n-  got: %v", want, err)
	}
	if os.Geteuid() == 0 {
		return
	}
	_, err = capture.OpenLive([]string{"lo"}, capture.LiveOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "live capture needs root or CAP_NET_RAW: ") {
		t.Errorf("\n- want: live capture needs root or CAP_NET_RAW: ...\n-  got: %v", err)
	}
}

// vethPair creates a network namespace with the far end of a veth pair,
// 10.99.0.1 here and 10.99.0.2 there, and returns the near end's name.
func vethPair(t *testing.T) string {
	const ns, near, far = "why502test", "w5near", "w5far"
	sh := func(args ...string) error {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	sh("ip", "netns", "del", ns)
	sh("ip", "link", "del", near)
	for _, c := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", near, "type", "veth", "peer", "name", far},
		{"ip", "link", "set", far, "netns", ns},
		{"ip", "addr", "add", "10.99.0.1/24", "dev", near},
		{"ip", "link", "set", near, "up"},
		{"ip", "netns", "exec", ns, "ip", "addr", "add", "10.99.0.2/24", "dev", far},
		{"ip", "netns", "exec", ns, "ip", "link", "set", far, "up"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"},
	} {
		if err := sh(c...); err != nil {
			t.Skipf("cannot set up a veth pair: %v", err)
		}
	}
	t.Cleanup(func() { sh("ip", "link", "del", near); sh("ip", "netns", "del", ns) })
	return near
}

// TestLiveSeveral captures on loopback and a veth pair at once, then on
// "any", and checks both interfaces' packets come out, in time order, named
// by interface; and that the -w file reads back the same.
func TestLiveSeveral(t *testing.T) {
	needRoot(t)
	veth := vethPair(t)
	port, run := loopTraffic(t, 2)
	const farPort = 9 // nothing listens: the far end answers RST
	expr := fmt.Sprintf("port %d or host 10.99.0.2", port)
	f, _ := capture.ParseFilter(expr)
	for _, ifaces := range [][]string{{"lo", veth}, {"any"}} {
		t.Run(strings.Join(ifaces, ","), func(t *testing.T) {
			var file bytes.Buffer
			r, err := capture.OpenLive(ifaces, capture.LiveOptions{Filter: f, Tick: 50 * time.Millisecond, Write: &file, WriteName: "live.pcapng"})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			run()
			c, err := net.DialTimeout("tcp4", fmt.Sprintf("10.99.0.2:%d", farPort), time.Second)
			if err == nil {
				c.Close()
			}
			pkts := collect(t, r, func(p []capture.Packet) bool {
				return countFIN(p, port) >= 4 && hasRST(p, farPort)
			})
			time.Sleep(200 * time.Millisecond)
			r.Close()
			if !hasRST(pkts, farPort) || countSYN(pkts) != 3 {
				t.Errorf("want 3 SYNs (2 on lo, 1 on %s) and a RST from 10.99.0.2; got %d packets:\n%s", veth, len(pkts), dump(pkts))
			}
			for i := range pkts {
				if i > 0 && pkts[i].Time.Before(pkts[i-1].Time) {
					t.Errorf("packet %d: time %v before the previous one's %v", i, pkts[i].Time, pkts[i-1].Time)
				}
				if pkts[i].File != "live.pcapng" || pkts[i].Frame != int64(i+1) {
					t.Errorf("packet %d: %s frame %d, want live.pcapng frame %d", i, pkts[i].File, pkts[i].Frame, i+1)
				}
			}
			// The file holds the same packets, with the same references.
			g := readAll(t, []capture.Source{{Name: "live.pcapng", R: bytes.NewReader(file.Bytes())}}, capture.Options{Filter: f})
			if dump(g.pkts) != dump(pkts) {
				t.Errorf("-w file read back:\n- want:\n%s\n-  got:\n%s", dump(pkts), dump(g.pkts))
			}
			st, err := r.LiveStats()
			t.Logf("%d packets; kernel: %+v (%v)", len(pkts), st, err)
		})
	}
}

func hasRST(pkts []capture.Packet, port uint16) bool {
	for _, p := range pkts {
		if p.Flags.Has(capture.RST) && p.Src.Port() == port {
			return true
		}
	}
	return false
}

func dump(pkts []capture.Packet) string {
	var b strings.Builder
	for _, p := range pkts {
		fmt.Fprintf(&b, "%s#%d %s %v>%v %v seq=%d len=%d\n", p.File, p.Frame, p.Time.Format("15:04:05.000000000"), p.Src, p.Dst, p.Flags, p.Seq, p.PayloadLen)
	}
	return b.String()
}
