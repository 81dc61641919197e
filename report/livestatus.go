package report

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// LiveStatus is what the status line of a live capture shows.
type LiveStatus struct {
	Elapsed      time.Duration
	Packets      int64   // TCP segments taken so far
	Mbps         float64 // their wire bytes per second since the previous refresh, in Mbit/s
	Conns        int64   // connections tracked now
	Responses5xx int64   // 5xx decided so far
	Drops        uint64  // packets the kernel dropped so far
}

// StatusLine keeps one line of a terminal up to date (standard error, so
// that standard output stays the incidents): each Show rewrites it in place,
// and Clear removes it before other output is written to the terminal.
type StatusLine struct {
	w     io.Writer
	width int
	shown bool
	buf   []byte
}

// NewStatusLine returns a status line on w, a terminal width columns wide
// (0: 80). Lines longer than that are cut: a wrapped line could not be
// rewritten in place.
func NewStatusLine(w io.Writer, width int) *StatusLine {
	if width <= 0 {
		width = 80
	}
	return &StatusLine{w: w, width: width}
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// Show replaces the line with st.
func (s *StatusLine) Show(st LiveStatus) { s.show(FormatLiveStatus(st)) }

// show replaces the line with text, cut to the width.
func (s *StatusLine) show(text string) {
	if len(text) > s.width-1 {
		text = text[:s.width-1]
	}
	s.buf = append(append(s.buf[:0], clearLine...), text...)
	s.w.Write(s.buf)
	s.shown = true
}

// Clear erases the line, if shown.
func (s *StatusLine) Clear() {
	if s.shown {
		io.WriteString(s.w, clearLine)
		s.shown = false
	}
}

// FormatLiveStatus is the text of the status line.
func FormatLiveStatus(st LiveStatus) string {
	return fmt.Sprintf("live %s | %s packets | %.1f Mbit/s | %s conns | %s 5xx | %s dropped",
		formatElapsed(st.Elapsed), thousands(st.Packets), st.Mbps, thousands(st.Conns),
		thousands(st.Responses5xx), thousands(int64(st.Drops)))
}

func formatElapsed(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// thousands groups digits by three: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}
