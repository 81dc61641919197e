package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"why502/capture"
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

// lineFilter keeps the lines that contain one of want; the others are
// dropped as they stream by, so a million connection records cost no
// memory.
type lineFilter struct {
	want    []string
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
		for _, s := range w.want {
			if bytes.Contains(line, []byte(s)) {
				w.kept = append(w.kept, string(line))
				break
			}
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
// flood with the default options, per command (README, Memory): analyze
// keeps more per connection than flows.
var floodHeapCap = map[string]uint64{"flows": 300 << 20, "analyze": 512 << 20}

// floodSample is the real capture embedded in the flood: its incidents
// must be found there as they are in the file alone.
const floodSample = "../../samples/loopback/capture.pcap"

// samplePackets reads a capture's packets, moved in time by shift so
// that the first one is at start.
func samplePackets(t *testing.T, name string, start time.Time) (out []capture.Packet, shift time.Duration) {
	t.Helper()
	r, err := capture.Open([]string{name}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out, shift
		}
		if err != nil {
			t.Fatal(err)
		}
		if out == nil {
			shift = start.Sub(p.Time)
		}
		q := *p
		q.Payload = bytes.Clone(p.Payload) // p's aliases the reader's buffer
		q.Time = p.Time.Add(shift)
		out = append(out, q)
	}
}

// incidentLine is what must match between a sample's incidents and the
// same ones found in the flood: the 5xx's time, status, cause, and what
// the evidence lacks.
type incidentLine struct {
	Time    time.Time `json:"time"`
	Status  int       `json:"status"`
	Cause   string    `json:"cause"`
	Missing []string  `json:"missing"`
}

func (l incidentLine) String() string {
	return fmt.Sprintf("%s %d %s missing=%q", l.Time.Format("15:04:05.000000"), l.Status, l.Cause, l.Missing)
}

// incidentLines decodes JSON lines of incidents, their times moved by shift.
func incidentLines(t *testing.T, lines []string, shift time.Duration) []string {
	t.Helper()
	var out []string
	for _, s := range lines {
		var l incidentLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("incident line %q: %v", s, err)
		}
		l.Time = l.Time.Add(shift)
		out = append(out, l.String())
	}
	return out
}

// shedCount reads "N <what>" from a summary.
func shedCount(t *testing.T, summary, what string) int {
	t.Helper()
	m := regexp.MustCompile(`(\d+) ` + regexp.QuoteMeta(what)).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("summary does not say how many %s:\n%s", what, summary)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestSYNFlood reads a capture of 1,000,000 half-open connections (a SYN
// flood) and 100,000 connections that never close, with three refused
// connects answered 502 and a real capture (floodSample) in it, through
// the whole command with the default options, flows then analyze: the
// heap stays under the documented cap, the summary says how many
// connections were shed, and the failures are still found, with their
// causes.
func TestSYNFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("SYN flood of 1.1 million connections through flows and analyze takes about 25 s; skipped under -short")
	}
	const open, halfOpen = 100_000, 1_000_000
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	span := 20 * time.Second
	sampleAt := t0.Add(8 * time.Second) // mid-flood
	var bs []*flowtest.Builder
	bs = append(bs, failingExchanges(t0.Add(500*time.Millisecond), 50000)...) // among the open ones
	bs = append(bs, failingExchanges(t0.Add(span/2), 51000)...)               // mid-flood
	bs = append(bs, failingExchanges(t0.Add(span-2*time.Second), 52000)...)   // at the end of it
	sample, shift := samplePackets(t, floodSample, sampleAt)
	extra := append(flowtest.Merge(bs...), sample...)
	slices.SortStableFunc(extra, func(x, y capture.Packet) int { return x.Time.Compare(y.Time) })
	fl := flowtest.Flood{Start: t0, Target: fProxy, Open: open, HalfOpen: halfOpen, Span: span, Extra: extra}

	// The sample's incidents, analyzed alone.
	sampleProxy := "127.0.0.1:18080"
	alone := &lineFilter{want: []string{sampleProxy}}
	var errb bytes.Buffer
	if code := run([]string{"analyze", "--format", "jsonl", floodSample}, nil, alone, &errb); code != exitOK || len(alone.kept) == 0 {
		t.Fatalf("analyze %s: exit %d, %d incidents; stderr:\n%s", floodSample, code, len(alone.kept), errb.String())
	}
	wantSample := incidentLines(t, alone.kept, shift)

	for _, cmd := range []string{"flows", "analyze"} {
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
			out := &lineFilter{want: []string{fGone.String()}}
			if cmd == "analyze" {
				out.want = append(out.want, sampleProxy)
			}
			var errb bytes.Buffer
			start := time.Now()
			code := run([]string{cmd, "--format", "jsonl", "-"}, pr, out, &errb)
			close(stop)
			pr.Close()
			wg.Wait()
			p := <-peak
			limit := floodHeapCap[cmd]
			t.Logf("%s: %d output lines in %v, peak HeapInuse %.1f MiB (cap %d MiB)",
				cmd, out.lines, time.Since(start).Round(time.Millisecond), float64(p)/(1<<20), limit>>20)
			if code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
			}
			if p > limit {
				t.Errorf("peak heap\n- want: under %d MiB\n-  got: %.1f MiB", limit>>20, float64(p)/(1<<20))
			}
			summary := errb.String()
			switch cmd {
			case "flows":
				if shed, least := shedCount(t, summary, "connections shed at the connection cap"), open+halfOpen-flows.DefaultMaxConns; shed < least {
					t.Errorf("shed connections\n- want: at least %d\n-  got: %d", least, shed)
				}
				if len(out.kept) != 3 || !strings.Contains(out.kept[0], `"state":"REJ"`) {
					t.Errorf("refused connects\n- want: 3, state REJ\n-  got: %q", out.kept)
				}
			case "analyze":
				t.Logf("summary:\n%s", summary)
				if shed, least := shedCount(t, summary, "connections shed at --max-conns"), open+halfOpen-flows.DefaultMaxConns; shed < least {
					t.Errorf("shed connections\n- want: at least %d\n-  got: %d", least, shed)
				}
				// Every half-open SYN but those still tracked at the end
				// was shed, and none of them was an upstream attempt.
				if shed, least := shedCount(t, summary, "connect attempts shed at --max-conns, all to the proxy's front"), halfOpen-flows.DefaultMaxConns; shed < least {
					t.Errorf("shed connect attempts\n- want: at least %d, all to the proxy's front\n-  got: %d\n%s", least, shed, summary)
				}
				var refused, sample []string
				for _, l := range out.kept {
					if strings.Contains(l, sampleProxy) {
						sample = append(sample, l)
					} else {
						refused = append(refused, l)
					}
				}
				if len(refused) != 3 || slices.ContainsFunc(refused, func(l string) bool {
					return !strings.Contains(l, `"cause":"connect_refused"`) || strings.Contains(l, `"missing"`)
				}) {
					t.Errorf("incidents\n- want: 3 connect_refused to %s, evidence complete\n-  got: %q", fGone, refused)
				}
				if got := incidentLines(t, sample, 0); !slices.Equal(got, wantSample) {
					t.Errorf("the sample's incidents in the flood\n- want: %q\n-  got: %q", wantSample, got)
				}
			}
		})
	}
}
