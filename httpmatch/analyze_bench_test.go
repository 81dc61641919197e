package httpmatch_test

import (
	"testing"

	"why502/capture"
	"why502/flows"
	"why502/httpmatch"
)

// BenchmarkAnalyze runs capture-decoded packets of a real sample through
// flows and the analyzer; MB/s counts captured bytes.
func BenchmarkAnalyze(b *testing.B) {
	r, err := capture.Open([]string{"../samples/loopback/capture.pcap"}, capture.Options{})
	if err != nil {
		b.Skip(err)
	}
	var pkts []capture.Packet
	var size int64
	if err := r.Each(func(p *capture.Packet) {
		q := *p
		q.Payload = append([]byte(nil), p.Payload...)
		pkts = append(pkts, q)
		size += int64(p.CapLen)
	}); err != nil {
		b.Fatal(err)
	}
	r.Close()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		a := httpmatch.NewAnalyzer(httpmatch.AnalyzeOptions{}, func(httpmatch.Incident) {})
		tr := flows.New(flows.Options{WantData: true}, a)
		for i := range pkts {
			tr.Add(&pkts[i])
			a.Advance(pkts[i].Time)
		}
		tr.Flush()
		a.Flush()
	}
}
