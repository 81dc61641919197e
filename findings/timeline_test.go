package findings

import (
	"net/netip"
	"testing"
	"time"
)

// TestTimelineBounded feeds a day of traffic: the timeline stays within
// maxTimelineBins per upstream and loses no count, also when requests
// come late for the previous second as its bins are widened (bucket's
// cache of its last answers must not hand out a merged bin).
func TestTimelineBounded(t *testing.T) {
	up := netip.MustParseAddrPort("10.0.0.7:8080")
	t0 := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	const secs = 86400
	tests := []struct {
		name string
		late bool // a second request each second, for the second before
	}{
		{name: "one request a second"},
		{name: "and one late for the second before", late: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{})
			c.upstreams[up] = true
			want := 0
			for i := 0; i < secs; i++ {
				at := t0.Add(time.Duration(i) * time.Second)
				c.bucket(up, at).Requests++
				want++
				if tc.late && i > 0 {
					c.bucket(up, at.Add(-time.Second)).Requests++
					want++
				}
			}
			rows := c.Timeline()[up]
			total := 0
			for _, r := range rows {
				total += r.Requests
			}
			if len(rows) > maxTimelineBins || total != want {
				t.Errorf("\n- want: at most %d bins holding %d requests\n-  got: %d bins holding %d", maxTimelineBins, want, len(rows), total)
			}
		})
	}
}
