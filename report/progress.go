package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Progress is what the progress line of flows and analyze shows: how far
// the reading of the inputs has got.
type Progress struct {
	Read    int64         // bytes read from the inputs (compressed bytes for gzip)
	Total   int64         // their size; 0 when not known (standard input, a pipe)
	Packets int64         // frames read
	Elapsed time.Duration // since the reading began
}

// ShowProgress replaces the line with p.
func (s *StatusLine) ShowProgress(p Progress) { s.show(FormatProgress(p)) }

// FormatProgress is the text of the progress line, e.g.
// "1.2 GB of 2.5 GB (48%)  812k packets/s  ETA 0:03". Rates are averages
// since the start; the percentage and the estimated time left are shown
// only when the total is known.
func FormatProgress(p Progress) string {
	var b strings.Builder
	b.WriteString(humanBytes(p.Read))
	known := p.Total > 0
	if known {
		pct := min(p.Read*100/p.Total, 100)
		fmt.Fprintf(&b, " of %s (%d%%)", humanBytes(p.Total), pct)
	}
	secs := p.Elapsed.Seconds()
	if secs <= 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "  %s packets/s", humanCount(float64(p.Packets)/secs))
	if known && p.Read > 0 && p.Read < p.Total {
		left := time.Duration(float64(p.Total-p.Read) / float64(p.Read) * float64(p.Elapsed))
		b.WriteString("  ETA " + formatETA(left))
	}
	return b.String()
}

// humanBytes is n in decimal units with one decimal: 512 B, 1.2 GB.
func humanBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if v < 999.95 || unit == "TB" {
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
		}
	}
	panic("unreachable")
}

// humanCount is a rate in thousands or millions: 950, 812k, 3.2M.
func humanCount(v float64) string {
	switch {
	case v < 999.5:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v < 999.5e3:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	default:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	}
}

// formatETA is d rounded up to the second, as m:ss or h:mm:ss.
func formatETA(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
