package report

import (
	"bytes"
	"testing"
	"time"
)

func TestFormatProgress(t *testing.T) {
	tests := []struct {
		name string
		p    Progress
		want string
	}{
		{
			name: "the example",
			p:    Progress{Read: 1.2e9, Total: 2.5e9, Packets: 812e3 * 2.8, Elapsed: 2800 * time.Millisecond},
			want: "1.2 GB of 2.5 GB (48%)  812k packets/s  ETA 0:04",
		},
		{
			name: "nothing read yet",
			p:    Progress{Total: 251526812},
			want: "0 B of 251.5 MB (0%)",
		},
		{
			name: "standard input: no percentage, no ETA",
			p:    Progress{Read: 64 << 20, Packets: 250e3, Elapsed: time.Second},
			want: "67.1 MB  250k packets/s",
		},
		{
			name: "small counts",
			p:    Progress{Read: 999, Total: 2000, Packets: 950, Elapsed: time.Second},
			want: "999 B of 2.0 kB (49%)  950 packets/s  ETA 0:02",
		},
		{
			name: "millions of packets per second",
			p:    Progress{Read: 125e6, Total: 250e6, Packets: 3.2e6, Elapsed: time.Second},
			want: "125.0 MB of 250.0 MB (50%)  3.2M packets/s  ETA 0:01",
		},
		{
			name: "unit boundary rounds up to the next unit",
			p:    Progress{Read: 999_960, Total: 1e12, Packets: 1, Elapsed: time.Second},
			want: "1.0 MB of 1.0 TB (0%)  1 packets/s  ETA 277:47:20",
		},
		{
			name: "all read, still deciding: no ETA",
			p:    Progress{Read: 2.5e9, Total: 2.5e9, Packets: 10e6, Elapsed: 4 * time.Second},
			want: "2.5 GB of 2.5 GB (100%)  2.5M packets/s",
		},
		{
			name: "a file growing while read stays at 100%",
			p:    Progress{Read: 3e9, Total: 2.5e9, Packets: 10e6, Elapsed: 4 * time.Second},
			want: "3.0 GB of 2.5 GB (100%)  2.5M packets/s",
		},
		{
			name: "an hour left",
			p:    Progress{Read: 1e9, Total: 100e9, Packets: 1e6, Elapsed: 40 * time.Second},
			want: "1.0 GB of 100.0 GB (1%)  25k packets/s  ETA 1:06:00",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatProgress(tc.p); got != tc.want {
				t.Errorf("FormatProgress(%+v)\n- want: %q\n-  got: %q", tc.p, tc.want, got)
			}
		})
	}
}

func TestShowProgress(t *testing.T) {
	var b bytes.Buffer
	s := NewStatusLine(&b, 20)
	s.ShowProgress(Progress{Read: 1.2e9, Total: 2.5e9, Packets: 1e6, Elapsed: time.Second})
	s.Clear()
	s.Clear()
	want := "\r\x1b[K1.2 GB of 2.5 GB (4\r\x1b[K"
	if b.String() != want {
		t.Errorf("line cut to 19 columns, then erased once\n- want: %q\n-  got: %q", want, b.String())
	}
}
