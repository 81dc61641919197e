package report

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestFormatTimeFast: formatTime by hand gives what Format gives with
// timeLayout, for times in and out of its four-digit years, in UTC or not.
func TestFormatTimeFast(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{
		time.Date(2026, 11, 26, 22, 33, 7, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, cet),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 3, 1, 0, 0, 0, 5, time.UTC),
		time.Unix(1<<40, 7),
		time.Now(),
	} {
		if got, want := formatTime(tm), tm.UTC().Format(timeLayout); got != want {
			t.Errorf("%v: got %s, want %s", tm, got, want)
		}
	}
	if got := formatTime(time.Time{}); got != "" {
		t.Errorf("zero time: got %q, want \"\"", got)
	}
}

// TestWiresharkFilterFast: the filter built by appends is the one the
// Sprintf it replaced gave, for IPv4, IPv6 and IPv4-mapped addresses.
func TestWiresharkFilterFast(t *testing.T) {
	ref := func(a, b netip.AddrPort) string {
		ip := "ip.addr"
		if a.Addr().Is6() && !a.Addr().Is4In6() {
			ip = "ipv6.addr"
		}
		return fmt.Sprintf("%s==%s && tcp.port==%d && %s==%s && tcp.port==%d",
			ip, a.Addr().Unmap(), a.Port(), ip, b.Addr().Unmap(), b.Port())
	}
	for _, c := range [][2]string{
		{"10.0.0.1:80", "192.0.2.7:51234"},
		{"[2001:db8::1]:443", "[2001:db8::2]:65535"},
		{"[::ffff:10.0.0.1]:8080", "[::ffff:10.0.0.2]:0"},
		{"[fe80::1%eth0]:80", "[fe80::2%eth0]:1"},
	} {
		a, b := netip.MustParseAddrPort(c[0]), netip.MustParseAddrPort(c[1])
		if got, want := WiresharkFilter(a, b), ref(a, b); got != want {
			t.Errorf("%v %v:\n- want: %s\n-  got: %s", a, b, want, got)
		}
	}
}
