package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"why502/findings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
	"why502/report"
)

// Timing of a live run. The decisions wait as in analyze
// (findings.DefaultHold after the 5xx), so an incident is printed about
// liveHold + liveTick + 100 ms (the capture's reorder window) after the
// proxy sent the 5xx.
const (
	liveLinger = findings.DefaultLinger
	liveHold   = findings.DefaultHold
	liveTick   = 250 * time.Millisecond
	// liveHorizon is how long exchanges are kept for matching (analyze
	// keeps them 5 min). Memory grows with the request rate times it, so
	// a gateway running for days keeps less; it must still outlast the
	// proxy's longest request (nginx's proxy_read_timeout is 60 s).
	liveHorizon = 2 * time.Minute
	// liveStatusEvery is how often the status line is redrawn.
	liveStatusEvery = time.Second
)

type liveFlags struct {
	ifaces      []string
	filter      string
	bpfFile     string
	duration    time.Duration
	count       int64
	write       string
	format      string
	front       []string
	upstream    []string
	snaplen     int
	bufferMiB   int
	promiscuous bool
	idle        time.Duration
	maxConns    int
	horizon     time.Duration
}

func newLiveFlagSet(f *liveFlags, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("why502 live", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: why502 live -i IFACE [-i IFACE]... [flags]\n\n"+
			"Captures on the gateway's interfaces (AF_PACKET, needs root or CAP_NET_RAW) and prints each 5xx the proxy sends,\n"+
			"with the upstream event that caused it, about a second after it happened. Stops on Ctrl-C, --duration or --count,\n"+
			"then prints the summary, the findings and the kernel's drop counters; --format markdown writes the postmortem of analyze then.\n"+
			"Exit status: 0 done, 1 usage error, 2 capture failed (not root, unknown interface, filter the kernel cannot take), 3 output failed.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringArrayVarP(&f.ifaces, "interface", "i", nil, "interface to capture on (repeatable), or \"any\" for all of them")
	fs.StringVarP(&f.filter, "filter", "f", "", "tcpdump-style filter, compiled to BPF and run in the kernel, e.g. 'tcp port 80 or tcp port 8080'")
	fs.StringVar(&f.bpfFile, "bpf-file", "", "attach this classic BPF program (the output of tcpdump -ddd) instead of compiling -f")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (e.g. 10m); 0 runs until Ctrl-C")
	fs.Int64VarP(&f.count, "count", "c", 0, "stop after this many TCP packets (as tcpdump -c); 0 means no limit")
	fs.StringVarP(&f.write, "write", "w", "", "also write the packets to this pcapng file, for why502 analyze or Wireshark later")
	fs.StringVar(&f.format, "format", "table", "output format: table (one row per incident), jsonl, or markdown (analyze's postmortem, written when the capture stops)")
	fs.StringArrayVar(&f.front, "front", nil, "the proxy's listening ip:port (repeatable; default: inferred)")
	fs.StringArrayVar(&f.upstream, "upstream", nil, "a backend ip:port, ip or network (repeatable; default: inferred)")
	fs.IntVarP(&f.snaplen, "snaplen", "s", 0, "bytes kept of each packet (default 262144)")
	fs.IntVarP(&f.bufferMiB, "buffer-size", "B", 32, "kernel ring per interface, in MiB: a larger ring absorbs longer bursts before the kernel drops")
	fs.BoolVar(&f.promiscuous, "promisc", false, "put the named interfaces in promiscuous mode (traffic not addressed to this host)")
	fs.DurationVar(&f.idle, "idle-timeout", flows.DefaultIdleTimeout, "release a connection silent this long")
	fs.IntVar(&f.maxConns, "max-conns", flows.DefaultMaxConns, "most connections held at once (about 3.5 KB of heap each; the default keeps a SYN flood under 300 MB of heap with flows, 512 MB with analyze); beyond it the longest idle is shed and counted")
	fs.DurationVar(&f.horizon, "horizon", liveHorizon, "how long requests are kept for matching: longer than the proxy's longest request; memory grows with it")
	return fs
}

func runLive(args []string, stdout, stderr io.Writer) int {
	var f liveFlags
	fs := newLiveFlagSet(&f, stderr)
	if code, done := parse(fs, args); done {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "why502 live: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "unexpected argument %q: live captures from interfaces (-i); use why502 analyze for files", fs.Arg(0))
	}
	if len(f.ifaces) == 0 {
		return fail(exitUsage, "no interface given: -i IFACE (or -i any)")
	}
	format, err := report.ParseFormat(f.format, report.Table, report.JSONL, report.Markdown)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if f.count < 0 || f.duration < 0 || f.snaplen < 0 || f.bufferMiB <= 0 || f.horizon <= liveHold {
		return fail(exitUsage, "--count, --duration and --snaplen cannot be negative, --buffer-size must be positive, --horizon more than %v", liveHold)
	}
	aopts, code := roleOptions("live", f.front, f.upstream, stderr)
	if code != exitOK {
		return code
	}
	aopts.Hold, aopts.Horizon = liveHold, f.horizon
	opts := capture.LiveOptions{
		Snaplen: f.snaplen, BufferSize: f.bufferMiB << 20, Promiscuous: f.promiscuous, Tick: liveTick,
	}
	if f.filter != "" {
		if opts.Filter, err = capture.ParseFilter(f.filter); err != nil {
			return fail(exitUsage, "%v", err)
		}
	}
	if f.bpfFile != "" {
		b, err := os.ReadFile(f.bpfFile)
		if err != nil {
			return fail(exitInput, "--bpf-file: %v", err)
		}
		if opts.BPF, err = capture.ParseBPFDecimal(b); err != nil {
			return fail(exitInput, "--bpf-file %s: %v (want the output of tcpdump -ddd)", f.bpfFile, err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	opts.Context = ctx
	var wf *os.File
	if f.write != "" {
		if wf, err = os.Create(f.write); err != nil {
			return fail(exitOutput, "%v", err)
		}
		defer wf.Close()
		opts.Write, opts.WriteName = wf, f.write
	}
	r, err := capture.OpenLive(f.ifaces, opts)
	if err != nil {
		if wf != nil {
			wf.Close()
			os.Remove(f.write)
		}
		return fail(exitInput, "%v", err)
	}
	defer r.Close()
	what := strings.Join(f.ifaces, ", ")
	if f.filter != "" {
		what += fmt.Sprintf(" (filter %q)", f.filter)
	}
	if f.bpfFile != "" {
		what += fmt.Sprintf(" (BPF from %s)", f.bpfFile)
	}
	fmt.Fprintf(stderr, "why502 live: capturing on %s; Ctrl-C to stop\n", what)

	var out liveOutput
	if format == report.Markdown {
		out = liveMarkdown{report.NewMarkdownWriter(stdout, report.MarkdownOptions{Command: liveReproduce(f)})}
	} else {
		out = report.NewLiveWriter(stdout, format)
	}
	lv := newLiveRun(aopts, flows.Options{IdleTimeout: f.idle, MaxConns: f.maxConns, Linger: liveLinger, WantData: true}, out, f.count)
	if width, ok := terminalWidth(stderr); ok {
		lv.status = report.NewStatusLine(stderr, width)
		lv.kernel = r
	}
	start := time.Now()
	readErr := lv.run(r)
	lv.finish()
	if err := r.Close(); err != nil && readErr == nil {
		readErr = err
	}
	if wf != nil {
		if err := wf.Close(); err != nil && readErr == nil {
			readErr = fmt.Errorf("write %s: %w", f.write, err)
		}
	}
	kstats, kerr := r.LiveStats()
	sum := report.LiveSummary{
		AnalyzeSummary: report.NewAnalyzeSummary(lv.pl, f.ifaces, r.Stats(), r.Warnings()),
		Duration:       time.Since(start), Interfaces: kstats,
	}
	report.WriteWarnings(stderr, "why502", sum.Capture, sum.Warnings)
	if kerr != nil {
		fmt.Fprintf(stderr, "why502 live: warning: %v\n", kerr)
	}
	writeErr := lv.writeErr
	if writeErr == nil {
		writeErr = lv.out.Close(sum)
	}
	if writeErr != nil {
		return fail(exitOutput, "%v", writeErr)
	}
	// JSON lines and the postmortem keep standard output for themselves:
	// the text summary, or the kernel's counters, go to standard error.
	switch out := lv.out.(type) {
	case *report.LiveWriter:
		if format == report.JSONL {
			out.WriteSummaryText(stderr, sum)
		}
	case liveMarkdown:
		report.WriteKernelStats(stderr, sum.Duration, sum.Interfaces)
	}
	if readErr != nil {
		if f.write != "" && strings.HasPrefix(readErr.Error(), "write "+f.write+":") {
			return fail(exitOutput, "%v", readErr) // the -w file, not the capture
		}
		return fail(exitInput, "%v", readErr)
	}
	return exitOK
}

// liveOutput is what a live run writes incidents to: the streaming rows
// or lines, or the Markdown postmortem written at the stop.
type liveOutput interface {
	Incident(httpmatch.Incident) error
	Close(report.LiveSummary) error
}

// liveMarkdown is analyze's postmortem for a live run. The MarkdownWriter
// keeps only the first incidents and the first of each cause, so a run of
// days holds no more than a short one.
type liveMarkdown struct{ *report.MarkdownWriter }

func (m liveMarkdown) Close(s report.LiveSummary) error {
	return m.MarkdownWriter.Close(s.AnalyzeSummary)
}

// liveReproduce is the analyze command that gives the postmortem again:
// on the -w file, or on a capture to be taken with -w.
func liveReproduce(f liveFlags) string {
	file := f.write
	if file == "" {
		file = "CAPTURE.pcapng"
	}
	return reproduce(f.filter, f.front, f.upstream, []string{file})
}

// roleOptions parses --front and --upstream into analyzer options.
func roleOptions(cmd string, front, upstream []string, stderr io.Writer) (httpmatch.AnalyzeOptions, int) {
	var aopts httpmatch.AnalyzeOptions
	for _, s := range front {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			fmt.Fprintf(stderr, "why502 %s: --front %q: want ip:port ([ipv6]:port)\n", cmd, s)
			return aopts, exitUsage
		}
		aopts.Front = append(aopts.Front, ap)
	}
	for _, s := range upstream {
		e, err := httpmatch.ParseEndpoint(s)
		if err != nil {
			fmt.Fprintf(stderr, "why502 %s: --upstream: %v\n", cmd, err)
			return aopts, exitUsage
		}
		aopts.Upstream = append(aopts.Upstream, e)
	}
	return aopts, exitOK
}

// terminalWidth reports whether w is a terminal, and its width.
func terminalWidth(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return 0, false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80, true
	}
	return int(ws.Col), true
}

// liveSource is what a live run reads: a capture.Reader from OpenLive, or
// in tests a capture file replayed with ticks.
type liveSource interface {
	Next() (*capture.Packet, error)
	Watermark() time.Time
}

// kernelStats is the part of a live Reader the status line asks for drops.
type kernelStats interface {
	LiveStats() ([]capture.InterfaceStats, error)
}

// liveRun is the pipeline of analyze driven by a live capture: packets
// advance the connections and the analyzer as in analyze, and the
// capture's ticks advance them to its watermark while no packet comes, so
// that decisions are not held back by a quiet interface.
type liveRun struct {
	pl       *findings.Pipeline
	out      liveOutput
	writeErr error
	count    int64 // stop after this many packets; 0: no limit

	status *report.StatusLine // nil when standard error is not a terminal
	kernel kernelStats
	// Status line bookkeeping.
	started    time.Time
	nextStatus time.Time
	packets    int64
	bytes      int64
	lastBytes  int64
	lastStatus time.Time
}

func newLiveRun(aopts httpmatch.AnalyzeOptions, fopts flows.Options, out liveOutput, count int64) *liveRun {
	lv := &liveRun{out: out, count: count}
	lv.pl = newPipeline(aopts, fopts, false, lv.incident)
	return lv
}

func (lv *liveRun) incident(in httpmatch.Incident) {
	if lv.writeErr != nil {
		return
	}
	if lv.status != nil {
		lv.status.Clear() // the row goes to the same terminal
	}
	lv.writeErr = lv.out.Incident(in)
}

// run reads src until it ends (the context was cancelled), the count is
// reached or the output fails. A capture error is returned after what was
// read before it has been used.
func (lv *liveRun) run(src liveSource) error {
	lv.started = time.Now()
	lv.lastStatus = lv.started
	lv.nextStatus = lv.started
	for lv.writeErr == nil {
		p, err := src.Next()
		switch {
		case errors.Is(err, capture.ErrTick):
			lv.pl.Advance(src.Watermark())
			lv.refresh(time.Now())
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		lv.pl.Add(p)
		lv.packets++
		lv.bytes += int64(p.WireLen)
		// The kernel stamps packets with the wall clock: no clock read per packet.
		if lv.status != nil && !p.Time.Before(lv.nextStatus) {
			lv.refresh(time.Now())
		}
		if lv.count > 0 && lv.packets >= lv.count {
			return nil
		}
	}
	return nil
}

// refresh redraws the status line when it is due.
func (lv *liveRun) refresh(now time.Time) {
	if lv.status == nil || now.Before(lv.nextStatus) {
		return
	}
	st := report.LiveStatus{
		Elapsed: now.Sub(lv.started), Packets: lv.packets,
		Conns: lv.pl.Tracker.Stats().Live, Responses5xx: lv.pl.Analyzer.Stats().Responses5xx,
	}
	if d := now.Sub(lv.lastStatus); d > 0 {
		st.Mbps = float64(lv.bytes-lv.lastBytes) * 8 / d.Seconds() / 1e6
	}
	if lv.kernel != nil {
		ifs, _ := lv.kernel.LiveStats()
		for _, s := range ifs {
			st.Drops += s.Drops
		}
	}
	lv.status.Show(st)
	lv.lastBytes, lv.lastStatus = lv.bytes, now
	lv.nextStatus = now.Add(liveStatusEvery)
}

// finish decides everything still waiting, as analyze does at the end of
// its input, and removes the status line.
func (lv *liveRun) finish() {
	lv.pl.Flush()
	if lv.status != nil {
		lv.status.Clear()
	}
}
