package capture_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"why502/capture"
)

// handPcapng builds a one-interface pcapng file in the given byte order,
// with if_tsresol and if_tsoffset options, holding one EPB with timestamp
// ts (in interface units), followed by an SPB.
func handPcapng(order binary.AppendByteOrder, tsresol byte, tsoffset uint64, ts uint64, frame []byte) []byte {
	var b bytes.Buffer
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b.Write(order.AppendUint32(order.AppendUint32(nil, typ), n))
		b.Write(body)
		b.Write(order.AppendUint32(nil, n))
	}
	u16, u32, u64 := order.AppendUint16, order.AppendUint32, order.AppendUint64
	shb := u32(nil, 0x1a2b3c4d)
	shb = u16(u16(shb, 1), 0)
	shb = u64(shb, ^uint64(0))
	block(0x0a0d0d0a, shb)
	idb := u32(u16(u16(nil, 1), 0), 0) // Ethernet, snaplen 0 (none)
	idb = append(u16(u16(idb, 9), 1), tsresol, 0, 0, 0)
	idb = u64(u16(u16(idb, 14), 8), tsoffset)
	idb = u32(idb, 0) // end of options
	block(1, idb)
	epb := u32(nil, 0)
	epb = u32(u32(epb, uint32(ts>>32)), uint32(ts))
	epb = u32(u32(epb, uint32(len(frame))), uint32(len(frame)))
	block(6, append(epb, frame...))
	block(3, append(u32(nil, uint32(len(frame))), frame...))
	return b.Bytes()
}

func TestPcapngTimestamps(t *testing.T) {
	frame := frameOf(seg(capture.SYN, 0))
	tests := []struct {
		name  string
		order binary.AppendByteOrder
		res   byte
		off   uint64
		ts    uint64
		want  time.Time
	}{
		{"micro little-endian", binary.LittleEndian, 6, 0, uint64(t0.Unix())*1e6 + 250000, t0.Add(250 * time.Millisecond)},
		{"nano big-endian", binary.BigEndian, 9, 0, uint64(t0.UnixNano()) + 7, t0.Add(7)},
		{"2^-10 with offset", binary.BigEndian, 0x80 | 10, 100, 5<<10 + 512, time.Unix(105, 5e8).UTC()},
		{"10^-19", binary.LittleEndian, 19, uint64(t0.Unix()), 15e18, t0.Add(1500 * time.Millisecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := readAll(t, []capture.Source{src("f", handPcapng(tc.order, tc.res, tc.off, tc.ts, frame))}, capture.Options{})
			if len(g.pkts) != 2 || !g.pkts[0].Time.Equal(tc.want) {
				t.Fatalf("\n- want: 2 packets, the first at %v\n-  got: %d packets %v, warnings %v", tc.want, len(g.pkts), g.pkts, g.warnings)
			}
			// The simple packet block has no timestamp: it keeps the previous one.
			if p := g.pkts[1]; p.Frame != 2 || !p.Time.Equal(tc.want) {
				t.Errorf("simple packet block:\n- want: frame 2 at %v\n-  got: frame %d at %v", tc.want, p.Frame, p.Time)
			}
		})
	}
}
