package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Format is an output format.
type Format string

// Output formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	JSONL Format = "jsonl"
)

// ParseFormat checks s against the formats a command accepts.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	names := make([]string, len(allowed))
	for i, f := range allowed {
		if string(f) == s {
			return f, nil
		}
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (want %s)", s, strings.Join(names, ", "))
}

// timeLayout is RFC 3339 with nanoseconds, always nine digits so that
// timestamps sort as strings and line up in columns.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	// timeLayout by hand: an incident's times are formatted a dozen times
	// over, and Format, which interprets its layout on every call, was 1 %
	// of analyze's instructions on 100 MB of small keep-alive requests.
	hour, min, sec := t.Clock()
	var b [len("2006-01-02T15:04:05.000000000Z")]byte
	digits(b[0:4], year)
	b[4] = '-'
	digits(b[5:7], int(month))
	b[7] = '-'
	digits(b[8:10], day)
	b[10] = 'T'
	digits(b[11:13], hour)
	b[13] = ':'
	digits(b[14:16], min)
	b[16] = ':'
	digits(b[17:19], sec)
	b[19] = '.'
	digits(b[20:29], t.Nanosecond())
	b[29] = 'Z'
	return string(b[:])
}

// digits writes n, zero-padded, into all of b.
func digits(b []byte, n int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}

// seconds rounds d to microseconds, the precision of most captures.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Second)
}

// newEncoder returns a JSON encoder that leaves &, < and > alone: the output
// is read by people and jq, not embedded in HTML, and Wireshark filters are
// full of &&.
func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
