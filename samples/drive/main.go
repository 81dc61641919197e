// Command drive sends a fixed sequence of requests through the proxy that
// make-samples.sh starts, one at a time, and prints one line per answer.
//
// The sequence is the same on every run; only what the proxy answers while
// the backend is down after /exit depends on timing (how many attempts land
// in the down window). Every request has a timeout and every loop a bound,
// so a broken proxy cannot keep the run going.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// step is one request of the sequence.
type step struct {
	method string
	path   string
	body   int  // bytes of request body (POST)
	close  bool // send "Connection: close": a fresh client connection next time
	note   string
	// garbled: nginx 1.22 relays a non-HTTP upstream answer as an HTTP/0.9
	// body, so the client gets no valid response; not a failure of the run.
	garbled bool
}

// sequence is the fixed order of requests. Keep-alive and closing requests
// alternate so the client side has both reused and one-shot connections.
func sequence(withDead bool) []step {
	s := []step{
		{"GET", "/ok", 0, false, "normal answer", false},
		{"GET", "/ok?size=8000", 0, false, "bigger body, several segments", false},
		{"POST", "/ok", 1000, false, "POST on a reused client connection", false},
		{"GET", "/502", 0, false, "backend itself answers 502", false},
		{"GET", "/slow", 0, true, "backend WriteTimeout: FIN before any response", false},
		{"POST", "/slow", 500, false, "same, as a POST (not retried by nginx)", false},
		{"GET", "/reset", 0, false, "backend RST", false},
		{"GET", "/garbage", 0, true, "non-HTTP answer, relayed as is", true},
		{"GET", "/badheader", 0, false, "invalid header", false},
		{"GET", "/hang", 0, false, "backend silent past proxy_read_timeout", false},
		{"GET", "/refused/x", 0, false, "upstream port with nothing listening", false},
	}
	if withDead {
		s = append(s, step{"GET", "/dead/x", 0, false, "upstream host that never answers SYN", false})
	}
	s = append(s,
		step{"GET", "/ok", 0, false, "fresh upstream connection before the crash", false},
		step{"GET", "/exit", 0, false, "backend process exits mid-request", false},
	)
	return s
}

func main() {
	base := flag.String("base", "http://127.0.0.1:8080", "proxy URL")
	withDead := flag.Bool("dead", false, "include /dead/ (a location whose upstream never answers SYNs)")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	downTries := flag.Int("down-tries", 12, "after /exit: at most this many GET /ok until one succeeds")
	downEvery := flag.Duration("down-every", 250*time.Millisecond, "after /exit: pause between those GETs")
	flag.Parse()

	d := newDriver(*base, *timeout)
	failed := 0
	for i, s := range sequence(*withDead) {
		if !d.do(i+1, s) && !s.garbled {
			failed++
		}
	}
	// The backend's supervisor restarts it after a delay: until then nginx's
	// connects are refused. Probe until it is back, a bounded number of times.
	for i := 0; i < *downTries; i++ {
		time.Sleep(*downEvery)
		if st := d.status(100+i, step{"GET", "/ok", 0, false, "while the backend restarts", false}); st == http.StatusOK {
			break
		}
	}
	d.do(200, step{"POST", "/ok?size=3000", 200, false, "after the restart", false})
	d.do(201, step{"GET", "/ok", 0, true, "last request, closes the client connection", false})
	if failed > 0 {
		// Transport errors, not 5xx: the proxy itself did not answer.
		log.Printf("drive: %d requests got no HTTP answer", failed)
		os.Exit(1)
	}
}

type driver struct {
	base   string
	client *http.Client
}

func newDriver(base string, timeout time.Duration) *driver {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost: 1, // one client connection at a time: easy to follow in the capture
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	return &driver{base: strings.TrimRight(base, "/"), client: &http.Client{Transport: tr, Timeout: timeout}}
}

// do sends one request and prints the outcome; false when no HTTP answer came.
func (d *driver) do(n int, s step) bool {
	return d.status(n, s) != 0
}

func (d *driver) status(n int, s step) int {
	var body io.Reader
	if s.body > 0 {
		body = bytes.NewReader(bytes.Repeat([]byte("b"), s.body))
	}
	req, err := http.NewRequest(s.method, d.base+s.path, body)
	if err != nil {
		log.Fatalf("drive: request %d: %v", n, err)
	}
	req.Close = s.close
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		fmt.Printf("%3d %-4s %-18s error %v (%s)\n", n, s.method, s.path, err, s.note)
		return 0
	}
	got, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("%3d %-4s %-18s %d %6d bytes %5dms (%s)\n", n, s.method, s.path, resp.StatusCode, got,
		time.Since(start).Milliseconds(), s.note)
	return resp.StatusCode
}
