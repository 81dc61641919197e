// Package capture reads packet captures (pcap, pcapng, gzip-compressed,
// several files merged by time, standard input) and decodes each frame down
// to its TCP segment, keeping the file name, the Wireshark frame number and
// the capture timestamp with it. Bad records become warnings, not failures:
// everything that could be read is returned.
//
// Formats are recognised by their magic bytes, never by file name. Link
// types: Ethernet (with 802.1Q and QinQ tags), Linux cooked capture v1 and
// v2 (tcpdump -i any), BSD loopback/Null and Loop, raw IP. IP fragments are
// counted, not reassembled.
//
// A record longer than 256 KiB (libpcap's largest snapshot length), or than
// the file's snapshot length when that is larger, up to 1 MiB, is taken as
// corruption: reading that file stops with a warning, and the claimed
// length is never allocated.
//
// OpenLive captures on network interfaces instead (Linux, root or
// CAP_NET_RAW, no libpcap and no cgo): one AF_PACKET socket per interface
// with a TPACKET_V3 ring, read by a goroutine that copies frames into a few
// reused batches, so memory is bounded and a slow reader makes the kernel
// drop (counted by LiveStats) rather than the process grow. Ethernet and
// loopback devices are read with their Ethernet header; "any" and other
// devices as cooked sockets, each frame starting at its IP header (written
// to -w files as raw IP, one interface block per device). Loopback's
// outgoing copies are skipped, as libpcap does, so each packet is seen
// once. Packets of one socket come out in the kernel's order; those of
// several sockets are merged in time order, held up to 100 ms for a
// socket that has not handed over its latest block. Next returns ErrTick
// after LiveOptions.Tick without a packet, and io.EOF once the context is
// cancelled (after what was already read) or the Reader closed.
//
// The filter runs twice: compiled to classic BPF in the kernel (CompileBPF,
// for Ethernet with up to two VLAN tags, Linux SLL and SLL2, raw IP and
// cooked sockets), then matched on each decoded packet. Every primitive of
// Filter compiles; the program also rejects what the decoder would not
// return as a TCP segment, so it accepts exactly what the Reader would
// return, except that IPv6 TCP after extension headers is rejected in the
// kernel, as tcpdump's "tcp" and "port" do. A program from tcpdump -ddd
// (ParseBPFDecimal) can be attached instead; it must be written for what
// the socket delivers (the Ethernet header on Ethernet and loopback
// devices, the IP header first on "any" and others).
//
// It does not track connections; that is package flows.
package capture
