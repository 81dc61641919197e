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
// It does not track connections; that is package flows.
package capture
