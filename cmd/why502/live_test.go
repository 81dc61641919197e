package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
	"why502/report"
)

// replay plays a capture file as a live capture would deliver it: when the
// next packet is more than tick after the watermark, Next returns
// capture.ErrTick and the watermark moves one tick, as the wall clock would.
type replay struct {
	r     *capture.Reader
	tick  time.Duration
	next  *capture.Packet // read ahead, not yet returned
	wm    time.Time
	ticks int
}

func (rp *replay) Next() (*capture.Packet, error) {
	if rp.next == nil {
		p, err := rp.r.Next()
		if err != nil {
			return nil, err
		}
		rp.next = p
	}
	p := rp.next
	if !rp.wm.IsZero() && p.Time.Sub(rp.wm) > rp.tick {
		rp.wm = rp.wm.Add(rp.tick)
		rp.ticks++
		return nil, capture.ErrTick
	}
	rp.next = nil
	if p.Time.After(rp.wm) {
		rp.wm = p.Time
	}
	return p, nil
}

func (rp *replay) Watermark() time.Time { return rp.wm }

func sortedLines(s string) string {
	l := strings.Split(s, "\n")
	slices.Sort(l)
	return strings.Join(l, "\n")
}

// sampleFiles lists the shipped samples and their capture files (meta's files=).
func sampleFiles(t *testing.T) map[string][]string {
	t.Helper()
	metas, err := filepath.Glob("../../samples/*/meta")
	if err != nil || len(metas) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	out := map[string][]string{}
	for _, m := range metas {
		f, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "files="); ok {
				dir := filepath.Dir(m)
				for _, name := range strings.Fields(v) {
					out[filepath.Base(dir)] = append(out[filepath.Base(dir)], filepath.Join(dir, name))
				}
			}
		}
		f.Close()
	}
	return out
}

// TestLiveMatchesAnalyze replays every sample through the live pipeline
// (ticks, the live linger and hold) and holds it to analyze on the same
// file: the same incidents, in the same order, with the same words.
func TestLiveMatchesAnalyze(t *testing.T) {
	for name, files := range sampleFiles(t) {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"analyze", "--format", "jsonl"}, files...)
			code, want, errOut := runCLI(t, nil, args...)
			if code != exitOK {
				t.Fatalf("analyze: exit %d: %s", code, errOut)
			}
			r, err := capture.Open(files, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var out bytes.Buffer
			lv := newLiveRun(httpmatch.AnalyzeOptions{Hold: liveHold},
				flows.Options{Linger: liveLinger, WantData: true},
				report.NewLiveWriter(&out, report.JSONL), 0)
			src := &replay{r: r, tick: liveTick}
			if err := lv.run(src); err != nil {
				t.Fatal(err)
			}
			lv.finish()
			if lv.writeErr != nil {
				t.Fatal(lv.writeErr)
			}
			// The same incidents; the order may differ where the analyzer
			// decides an incident on a later event than its Hold (a TLS
			// front's failed connect is decided when the attempt is done).
			got := out.String()
			if sortedLines(got) != sortedLines(want) {
				t.Errorf("live and analyze disagree (%d ticks)\n- want (analyze):\n%s\n-  got (live):\n%s", src.ticks, want, got)
			} else if got != want {
				t.Logf("same incidents, in another order (live decides on ticks, analyze on the next packet)")
			}
		})
	}
}

// TestLiveLatency checks the promise of the live pipeline: each incident is
// handed over at most liveHold + liveTick after the 5xx was sent, in capture
// time, however quiet the interface is afterwards.
func TestLiveLatency(t *testing.T) {
	r, err := capture.Open([]string{loopback}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := &replay{r: r, tick: liveTick}
	var late []string
	n := 0
	lv := newLiveRun(httpmatch.AnalyzeOptions{Hold: liveHold}, flows.Options{Linger: liveLinger, WantData: true},
		incidentFunc(func(in httpmatch.Incident) error {
			n++
			if d := src.Watermark().Sub(in.Time); d > liveHold+liveTick {
				late = append(late, in.Method+" "+in.URI+": "+d.String())
			}
			return nil
		}), 0)
	if err := lv.run(src); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no incident decided before the end of the capture")
	}
	if len(late) > 0 {
		t.Errorf("incidents decided later than %v after the 5xx: %s", liveHold+liveTick, strings.Join(late, "; "))
	}
}

// incidentFunc is a liveOutput that hands each incident to a function.
type incidentFunc func(httpmatch.Incident) error

func (f incidentFunc) Incident(in httpmatch.Incident) error { return f(in) }
func (incidentFunc) Close(report.LiveSummary) error         { return nil }

// replayLive runs files through the live pipeline into out, as runLive
// does from the capture until its stop, and closes out with the summary.
func replayLive(t *testing.T, files []string, out liveOutput) {
	t.Helper()
	r, err := capture.Open(files, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lv := newLiveRun(httpmatch.AnalyzeOptions{Hold: liveHold}, flows.Options{Linger: liveLinger, WantData: true}, out, 0)
	if err := lv.run(&replay{r: r, tick: liveTick}); err != nil {
		t.Fatal(err)
	}
	lv.finish()
	if lv.writeErr != nil {
		t.Fatal(lv.writeErr)
	}
	if err := out.Close(report.LiveSummary{AnalyzeSummary: report.NewAnalyzeSummary(lv.pl, files, r.Stats(), r.Warnings())}); err != nil {
		t.Fatal(err)
	}
}

// postmortemHead is the part of a Markdown postmortem that does not depend
// on the order the incidents were decided in: the summary, the findings
// and the timeline (the ladders show the first incident of each cause).
func postmortemHead(doc string) string {
	for _, h := range []string{"### What happened on the wire", "### Incidents", "### Reproduce"} {
		if i := strings.Index(doc, h); i >= 0 {
			return doc[:i]
		}
	}
	return doc
}

// findingsBlock is the "Findings:" block of a table summary, or "".
func findingsBlock(out string) string {
	i := strings.Index(out, "\nFindings:\n")
	if i < 0 {
		return ""
	}
	b, _, _ := strings.Cut(out[i+1:], "\n\n")
	return b
}

// TestLiveFindingsMatchAnalyze replays every sample through the live
// pipeline and holds its findings to analyze's on the same file: the
// postmortem of --format markdown up to its ladders, and the findings
// after the table.
func TestLiveFindingsMatchAnalyze(t *testing.T) {
	withFindings := 0
	for name, files := range sampleFiles(t) {
		t.Run(name, func(t *testing.T) {
			code, want, errOut := runCLI(t, nil, append([]string{"analyze", "--format", "markdown"}, files...)...)
			if code != exitOK {
				t.Fatalf("analyze: exit %d: %s", code, errOut)
			}
			var md bytes.Buffer
			replayLive(t, files, liveMarkdown{report.NewMarkdownWriter(&md,
				report.MarkdownOptions{Command: reproduce("", nil, nil, files)})})
			if got := postmortemHead(md.String()); got != postmortemHead(want) {
				t.Errorf("live and analyze postmortems disagree\n- want (analyze):\n%s\n-  got (live):\n%s", postmortemHead(want), got)
			}
			if strings.Contains(want, "### Findings") {
				withFindings++
			}

			code, want, errOut = runCLI(t, nil, append([]string{"analyze"}, files...)...)
			if code != exitOK {
				t.Fatalf("analyze: exit %d: %s", code, errOut)
			}
			var tab bytes.Buffer
			replayLive(t, files, report.NewLiveWriter(&tab, report.Table))
			if got, want := findingsBlock(tab.String()), findingsBlock(want); got != want {
				t.Errorf("live and analyze findings disagree\n- want (analyze):\n%s\n-  got (live):\n%s", want, got)
			}
		})
	}
	if withFindings == 0 {
		t.Error("no sample has findings: the comparison proves nothing")
	}
}

func TestLiveUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no interface", []string{"live"}, exitUsage, "no interface given"},
		{"a file", []string{"live", "-i", "lo", "x.pcap"}, exitUsage, "use why502 analyze for files"},
		{"bad format", []string{"live", "-i", "lo", "--format", "json"}, exitUsage, `unknown format "json" (want table, jsonl, markdown)`},
		{"markdown accepted", []string{"live", "-i", "lo", "--format", "markdown", "--count", "-1"}, exitUsage, "cannot be negative"},
		{"udp filter", []string{"live", "-i", "lo", "-f", "udp port 53"}, exitUsage, "only TCP segments are decoded"},
		{"bad front", []string{"live", "-i", "lo", "--front", "x"}, exitUsage, "--front"},
		{"missing bpf file", []string{"live", "-i", "lo", "--bpf-file", "/nonexistent/prog"}, exitInput, "--bpf-file"},
		{"unknown flag", []string{"live", "--nope"}, exitUsage, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("why502 %s\n- want: exit %d, stderr containing %q\n-  got: exit %d, stderr %q",
					strings.Join(tc.args, " "), tc.code, tc.want, code, errOut)
			}
		})
	}
}

// TestLiveCaptureErrors needs no root: an unknown interface, or no right
// to capture, is an input error (exit 2) with capture's message.
func TestLiveCaptureErrors(t *testing.T) {
	code, _, errOut := runCLI(t, nil, "live", "-i", "why502-no-such-if0", "--duration", "1s")
	if code != exitInput || !strings.Contains(errOut, `interface "why502-no-such-if0" not found`) {
		t.Errorf("unknown interface\n- want: exit 2, interface ... not found\n-  got: exit %d, %q", code, errOut)
	}
	if os.Geteuid() != 0 {
		code, _, errOut := runCLI(t, nil, "live", "-i", "lo", "--duration", "1s")
		if code != exitInput || !strings.Contains(errOut, "needs root or CAP_NET_RAW") {
			t.Errorf("not root\n- want: exit 2, needs root or CAP_NET_RAW\n-  got: exit %d, %q", code, errOut)
		}
	}
}

func TestReplayTicks(t *testing.T) {
	r, err := capture.Open([]string{loopback}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := &replay{r: r, tick: liveTick}
	var last time.Time
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, capture.ErrTick) {
			t.Fatal(err)
		}
		if wm := src.Watermark(); wm.Before(last) {
			t.Fatalf("watermark went back from %v to %v", last, wm)
		} else {
			last = wm
		}
		if p != nil && p.Time.After(src.Watermark()) {
			t.Fatalf("packet at %v after the watermark %v", p.Time, src.Watermark())
		}
	}
	if src.ticks == 0 {
		t.Error("the loopback sample has pauses: want ticks")
	}
}
