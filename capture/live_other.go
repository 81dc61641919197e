//go:build !linux

package capture

import "errors"

// OpenLive captures on network interfaces; it needs Linux's AF_PACKET.
func OpenLive(ifaces []string, opts LiveOptions) (*Reader, error) {
	return nil, errors.New("live capture is supported on Linux only; capture with tcpdump -w and run analyze")
}

func interfaceName(ifindex int) string { return "" }
