package flows_test

import (
	"testing"
	"time"

	"why502/capture"
	"why502/flows"
	"why502/flows/flowtest"
)

func TestState(t *testing.T) {
	req := "GET / HTTP/1.1\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\n\r\n"
	tests := []struct {
		name string
		b    *flowtest.Builder
		want string
	}{
		{"S0 attempt, no reply", newConn().SYN().At(time.Second).SYN(), "S0"},
		{"S1 established, not closed", established().Data(c2s, req), "S1"},
		{"SF both FINs", established().Data(c2s, req).Data(s2c, resp).FIN(flows.Client).FIN(flows.Server).ACK(flows.Client), "SF"},
		{"REJ refused", newConn().SYN().Refuse(), "REJ"},
		{"REJ both reset, no data", established().RST(flows.Client).RST(flows.Server), "REJ"},
		{"S2 client FIN only", established().Data(c2s, req).FIN(flows.Client), "S2"},
		{"S3 server FIN only", established().Data(c2s, req).FIN(flows.Server), "S3"},
		{"RSTO client reset", established().Data(c2s, req).RST(flows.Client), "RSTO"},
		{"RSTR server reset", established().Data(c2s, req).RST(flows.Server), "RSTR"},
		{"RSTR server FIN then RST", established().FIN(flows.Server).Data(c2s, req).RST(flows.Server), "RSTR"},
		{"RSTOS0 SYN then client RST", newConn().SYN().At(time.Second).
			Raw(c2s, capture.RST, 1001, 0, "", 0), "RSTOS0"},
		{"RSTRH SYN-ACK then RST, no SYN", newConn().SYNACK().RST(flows.Server), "RSTRH"},
		{"SH SYN then FIN, no SYN-ACK", newConn().SYN().FIN(flows.Client), "SH"},
		{"SHR SYN-ACK then FIN, no SYN", newConn().SYNACK().FIN(flows.Server), "SHR"},
		{"OTH midstream, not closed", newConn().Data(c2s, req).Data(s2c, resp), "OTH"},
		{"OTH midstream client reset, server silent", newConn().RST(flows.Client), "OTH"},
		{"SF midstream closed both ways (as Zeek)", newConn().Data(c2s, req).Data(s2c, resp).FIN(flows.Server).FIN(flows.Client), "SF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := one(flows.Options{}, tc.b.Packets())
			if got := c.State(); got != tc.want {
				t.Fatalf("unexpected state (handshake %v, closed %v, teardown %+v):\n- want: %s\n-  got: %s",
					c.Handshake, c.Closed, c.Teardown, tc.want, got)
			}
		})
	}
}

// A Conn built by hand (as a report test would) gets its state from
// Teardown alone.
func TestStateFromTeardown(t *testing.T) {
	c := &flows.Conn{Handshake: flows.Established, SYNs: 1,
		Teardown: flows.Teardown{By: flows.Server, Kind: flows.CloseFIN, PeerKind: flows.CloseRST}}
	if got, want := c.State(), "RSTO"; got != want {
		t.Fatalf("- want: %s\n-  got: %s", want, got)
	}
}

func TestStringers(t *testing.T) {
	tests := []struct{ got, want string }{
		{flows.Client.String(), "client"},
		{flows.Server.String(), "server"},
		{flows.NoSide.String(), ""},
		{flows.CloseFIN.String(), "fin"},
		{flows.CloseRST.String(), "rst"},
		{flows.CloseNone.String(), "none"},
		{flows.Established.String(), "established"},
		{flows.Refused.String(), "refused"},
		{flows.Unanswered.String(), "unanswered"},
		{flows.Midstream.String(), "midstream"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("- want: %q\n-  got: %q", tc.want, tc.got)
		}
	}
}
