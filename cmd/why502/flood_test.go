package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"why502/flows"
	"why502/flows/flowtest"
)

var (
	fClient  = netip.MustParseAddr("10.1.2.3")
	fProxy   = netip.MustParseAddrPort("10.0.0.1:80")
	fBackend = netip.MustParseAddrPort("10.0.0.7:8080")
	fGone    = netip.MustParseAddrPort("10.0.0.8:8080") // nothing listens there
)

func httpReq(uri string) string {
	return "GET " + uri + " HTTP/1.1\r\nHost: shop.example\r\n\r\n"
}

func httpResp(status int) string {
	return fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status)
}

// failingExchanges is what a proxy's capture holds around one 502: a
// request served by the backend (so that roles can be learned), then a
// request whose upstream connect is refused and answered 502. port makes
// the 4-tuples unique.
func failingExchanges(t0 time.Time, port uint16) []*flowtest.Builder {
	warm := flowtest.New(t0, netip.AddrPortFrom(fClient, port), fProxy)
	warm.SYN().SYNACK().ACK(flows.Client).Data(flows.ClientToServer, httpReq("/warm"))
	up := flowtest.New(t0.Add(time.Millisecond), netip.AddrPortFrom(fProxy.Addr(), port), fBackend)
	up.SYN().SYNACK().ACK(flows.Client).Data(flows.ClientToServer, httpReq("/warm")).
		At(500*time.Microsecond).Data(flows.ServerToClient, httpResp(200))
	warm.At(3*time.Millisecond).Data(flows.ServerToClient, httpResp(200)).FIN(flows.Client).FIN(flows.Server)

	t1 := t0.Add(time.Second)
	front := flowtest.New(t1, netip.AddrPortFrom(fClient, port+1), fProxy)
	front.SYN().SYNACK().ACK(flows.Client).Data(flows.ClientToServer, httpReq("/checkout"))
	refused := flowtest.New(t1.Add(100*time.Microsecond), netip.AddrPortFrom(fProxy.Addr(), port+1), fGone).SYN().Refuse()
	front.At(time.Millisecond).Data(flows.ServerToClient, httpResp(502)).FIN(flows.Client).FIN(flows.Server)
	return []*flowtest.Builder{warm, up, front, refused}
}

// lineFilter keeps the lines that contain want; the others are dropped
// as they stream by, so a million connection records cost no memory.
type lineFilter struct {
	want    string
	partial []byte
	kept    []string
	lines   int
}

func (w *lineFilter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.partial = append(w.partial, b...)
			break
		}
		line := b[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		w.lines++
		if bytes.Contains(line, []byte(w.want)) {
			w.kept = append(w.kept, string(line))
		}
		b = b[i+1:]
	}
	return n, nil
}

// peakHeap samples the heap until stop is closed and returns the highest
// HeapInuse seen.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// floodHeapCap is the documented bound on the heap while reading the
// flood with the default options (README, Memory).
const floodHeapCap = 300 << 20

// TestSYNFlood reads a capture of 1,000,000 half-open connections (a SYN
// flood) and 100,000 connections that never close, with two refused
// connects answered 502 in it, through the whole command with the default
// options: the heap stays under the documented cap, the summary says how
// many connections were shed, and the failures are still found.
func TestSYNFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("SYN flood of 1.1 million connections takes several seconds; skipped under -short")
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	span := 20 * time.Second
	var bs []*flowtest.Builder
	bs = append(bs, failingExchanges(t0.Add(500*time.Millisecond), 50000)...) // among the open ones
	bs = append(bs, failingExchanges(t0.Add(span/2), 51000)...)               // mid-flood
	bs = append(bs, failingExchanges(t0.Add(span-2*time.Second), 52000)...)   // at the end of it
	extra := flowtest.Merge(bs...)

	tests := []struct {
		cmd            string
		open, halfOpen int
		maxConns       int // 0: the default
	}{
		{"flows", 100_000, 1_000_000, 0},
		// analyze at a smaller scale and cap: findings.Collector.Advance
		// scans every unanswered SYN at every packet, so a full-size flood
		// takes hours there (reported; findings is not this test's to fix).
		{"analyze", 2_000, 20_000, 5_000},
	}
	for _, tc := range tests {
		cmd, open, halfOpen := tc.cmd, tc.open, tc.halfOpen
		maxConns := cmp.Or(tc.maxConns, flows.DefaultMaxConns)
		fl := flowtest.Flood{Start: t0, Target: fProxy, Open: open, HalfOpen: halfOpen, Span: span, Extra: extra}
		t.Run(cmd, func(t *testing.T) {
			runtime.GC()
			pr, pw := io.Pipe()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				pw.CloseWithError(fl.WritePcap(pw))
			}()
			stop := make(chan struct{})
			peak := peakHeap(stop)
			out := &lineFilter{want: fGone.String()}
			var errb bytes.Buffer
			start := time.Now()
			args := []string{cmd, "--format", "jsonl", "-"}
			if tc.maxConns != 0 {
				args = append(args, "--max-conns", strconv.Itoa(tc.maxConns))
			}
			code := run(args, pr, out, &errb)
			close(stop)
			pr.Close()
			wg.Wait()
			p := <-peak
			t.Logf("%s: %d output lines in %v, peak HeapInuse %.1f MiB (cap %d MiB)",
				cmd, out.lines, time.Since(start).Round(time.Millisecond), float64(p)/(1<<20), floodHeapCap>>20)
			if code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
			}
			if p > floodHeapCap {
				t.Errorf("peak heap\n- want: under %d MiB\n-  got: %.1f MiB", floodHeapCap>>20, float64(p)/(1<<20))
			}
			switch cmd {
			case "flows":
				m := regexp.MustCompile(`(\d+) connections shed at the connection cap`).FindStringSubmatch(errb.String())
				if m == nil {
					t.Fatalf("summary does not say how many connections were shed:\n%s", errb.String())
				}
				shed, _ := strconv.Atoi(m[1])
				if least := open + halfOpen - maxConns; shed < least {
					t.Errorf("shed connections\n- want: at least %d\n-  got: %d", least, shed)
				}
				if len(out.kept) != 3 || !strings.Contains(out.kept[0], `"state":"REJ"`) {
					t.Errorf("refused connects\n- want: 3, state REJ\n-  got: %q", out.kept)
				}
			case "analyze":
				if len(out.kept) != 3 || !strings.Contains(out.kept[0], `"cause":"connect_refused"`) {
					t.Errorf("incidents\n- want: 3 connect_refused to %s\n-  got: %q\nstderr:\n%s", fGone, out.kept, errb.String())
				}
			}
		})
	}
}
