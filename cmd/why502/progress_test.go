package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"why502/capture"
	"why502/report"
)

// fakeProgress returns the next of its counts at each call, then zeros;
// only the line's goroutine calls it.
type fakeProgress struct{ read, total []int64 }

func (f *fakeProgress) Progress() (int64, int64) {
	if len(f.read) == 0 {
		return 0, 0
	}
	r, t := f.read[0], f.total[0]
	f.read, f.total = f.read[1:], f.total[1:]
	return r, t
}

func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var term bytes.Buffer
	src := &fakeProgress{read: []int64{100e6, 200e6}, total: []int64{250e6, 250e6}}
	p := newProgressLine(src, report.NewStatusLine(&term, 80), t0)
	p.packets.Store(500e3)
	tick := make(chan time.Time)
	p.run(tick)
	tick <- t0.Add(250 * time.Millisecond) // before progressDelay: nothing drawn
	tick <- t0.Add(time.Second)
	tick <- t0.Add(2 * time.Second)
	p.finish()
	p.finish()
	want := "\r\x1b[K100.0 MB of 250.0 MB (40%)  500k packets/s  ETA 0:02" +
		"\r\x1b[K200.0 MB of 250.0 MB (80%)  250k packets/s  ETA 0:01" +
		"\r\x1b[K" // erased by finish, once
	if got := term.String(); got != want {
		t.Errorf("terminal\n- want: %q\n-  got: %q", want, got)
	}
	select {
	case <-p.done:
	default:
		t.Error("the line's goroutine still runs after finish")
	}
}

// TestProgressOutputErases: records written to standard output on the
// line's terminal begin at the start of a clean line.
func TestProgressOutputErases(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var term bytes.Buffer
	p := newProgressLine(&fakeProgress{read: []int64{1e6}, total: []int64{0}}, report.NewStatusLine(&term, 80), t0)
	p.draw(t0.Add(time.Second))
	w := erasingWriter{p, &term}
	fmt.Fprint(w, "row 1\n")
	fmt.Fprint(w, "row 2\n")
	p.finish() // never started: nothing to stop, nothing to erase
	want := "\r\x1b[K1.0 MB  0 packets/s\r\x1b[Krow 1\nrow 2\n"
	if got := term.String(); got != want {
		t.Errorf("terminal\n- want: %q\n-  got: %q", want, got)
	}
}

func TestPumpCountsPackets(t *testing.T) {
	r, err := capture.Open([]string{loopback}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := newProgressLine(r, nil, time.Now())
	if err := pump(r, func(*capture.Packet) {}, func() bool { return false }, p); err != nil {
		t.Fatal(err)
	}
	if got, want := p.packets.Load(), r.Stats().Frames; got != want || want == 0 {
		t.Errorf("packets seen by the line\n- want: %d\n-  got: %d", want, got)
	}
}

// TestNoProgressWithoutTerminal: with standard error a file (not a
// terminal), or with --quiet, the commands write exactly what they write
// to a buffer, with no line drawn nor erased.
func TestNoProgressWithoutTerminal(t *testing.T) {
	tests := [][]string{
		{"flows", "--format", "jsonl", loopback},
		{"flows", "-q", loopback},
		{"analyze", "--format", "jsonl", loopback},
		{"analyze", "--quiet", "--format", "jsonl", loopback},
	}
	for _, args := range tests {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			wantCode, wantOut, wantErr := runCLI(t, nil, args...)
			errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer errFile.Close()
			var out bytes.Buffer
			code := run(args, nil, &out, errFile)
			gotErr, err := os.ReadFile(errFile.Name())
			if err != nil {
				t.Fatal(err)
			}
			if code != wantCode || out.String() != wantOut || string(gotErr) != wantErr {
				t.Errorf("with standard error a file\n- want: exit %d, stderr %q\n-  got: exit %d, stderr %q (stdout same: %v)",
					wantCode, wantErr, code, gotErr, out.String() == wantOut)
			}
			if strings.ContainsAny(wantErr, "\r\x1b") {
				t.Errorf("stderr has terminal controls: %q", wantErr)
			}
		})
	}
}

// openPTY returns the terminal side of a new pseudo-terminal, and its
// master, which must be kept open.
func openPTY(t *testing.T) (tty, master *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, master
}

// TestStartProgress: the line is started only on a terminal, never with
// --quiet; standard output on a terminal erases it before each write.
func TestStartProgress(t *testing.T) {
	src := &fakeProgress{}
	regular, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	for _, w := range []io.Writer{&bytes.Buffer{}, regular} {
		if p := startProgress(src, w, false); p != nil {
			p.finish()
			t.Errorf("progress line started on %T", w)
		}
	}
	tty, _ := openPTY(t)
	if p := startProgress(src, tty, true); p != nil {
		p.finish()
		t.Error("progress line started with --quiet")
	}
	p := startProgress(src, tty, false)
	if p == nil {
		t.Fatal("no progress line on a terminal")
	}
	defer p.finish()
	if _, ok := p.output(tty).(erasingWriter); !ok {
		t.Error("standard output on the terminal is not erasing the line")
	}
	var buf bytes.Buffer
	if w := p.output(&buf); w != &buf {
		t.Errorf("standard output not a terminal is wrapped: %T", w)
	}
}
