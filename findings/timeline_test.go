package findings

import (
	"net/netip"
	"testing"
	"time"
)

// TestTimelineBounded feeds a day of traffic, one request a second: the
// timeline stays within maxTimelineBins per upstream and loses no count.
func TestTimelineBounded(t *testing.T) {
	c := New(Options{})
	up := netip.MustParseAddrPort("10.0.0.7:8080")
	c.upstreams[up] = true
	t0 := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	const secs = 86400
	for i := 0; i < secs; i++ {
		c.bucket(up, t0.Add(time.Duration(i)*time.Second)).Requests++
	}
	rows := c.Timeline()[up]
	total := 0
	for _, r := range rows {
		total += r.Requests
	}
	if len(rows) > maxTimelineBins || total != secs {
		t.Errorf("\n- want: at most %d bins holding %d requests\n-  got: %d bins holding %d", maxTimelineBins, secs, len(rows), total)
	}
}
