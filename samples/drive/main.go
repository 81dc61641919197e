// Command drive sends a fixed sequence of requests through the proxy that
// make-samples.sh starts, one at a time, and prints one line per answer.
//
// The sequence is the same on every run; only what the proxy answers while
// the backend is down after /exit depends on timing (how many attempts land
// in the down window). Every request has a timeout and every loop a bound,
// so a broken proxy cannot keep the run going.
//
// -seq picks the sequence: basic (above, the default), retry (nginx-retry),
// race (keepalive-race), load (make-load.sh: -n requests, -c at a time),
// crash (-c clients at a fixed rate for -for, while the script kills the
// backend) and timeout (response-timeout); see seqs.go.
package main

import (
	"bytes"
	"crypto/tls"
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
	seq := flag.String("seq", "basic", "which sequence: basic (every failure kind, then /exit), retry (a two-server upstream, one dead), race (requests spaced around the backend's idle timeout), load (-n requests, -c at a time), crash (-c clients at a fixed rate for -for), timeout (handlers around the backend's -kill-after)")
	insecure := flag.Bool("insecure", false, "accept any TLS certificate (the tls-front sample's is self-signed)")
	raceFrom := flag.Duration("race-from", 850*time.Millisecond, "race: first pause between requests")
	raceTo := flag.Duration("race-to", 1050*time.Millisecond, "race: last pause between requests")
	raceN := flag.Int("race-n", 40, "race: number of requests")
	loadN := flag.Int("n", 10000, "load: number of requests")
	loadC := flag.Int("c", 32, "load, crash: requests in flight (crash: clients)")
	crashFor := flag.Duration("for", 4*time.Second, "crash: how long the clients send")
	crashEvery := flag.Duration("every", 200*time.Millisecond, "crash: each client sends one request per this interval")
	crashWork := flag.Duration("work", 100*time.Millisecond, "crash: how long each request works on the backend (/work?ms=)")
	flag.Parse()

	d := newDriver(*base, *timeout, *insecure)
	switch *seq {
	case "basic":
	case "retry":
		os.Exit(d.retry())
	case "race":
		os.Exit(d.race(*raceN, *raceFrom, *raceTo))
	case "load":
		os.Exit(d.load(*loadN, *loadC))
	case "crash":
		os.Exit(d.crash(*loadC, *crashFor, *crashEvery, *crashWork))
	case "timeout":
		os.Exit(d.timeout())
	default:
		log.Fatalf("drive: unknown -seq %q", *seq)
	}
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

func newDriver(base string, timeout time.Duration, insecure bool) *driver {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: insecure},
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

// quiet sends one request and returns its status (0: no HTTP answer), printing nothing.
func (d *driver) quiet(s step) int {
	st, _, _ := d.send(s)
	return st
}

func (d *driver) status(n int, s step) int {
	start := time.Now()
	st, got, err := d.send(s)
	if err != nil {
		fmt.Printf("%3d %-4s %-18s error %v (%s)\n", n, s.method, s.path, err, s.note)
		return 0
	}
	fmt.Printf("%3d %-4s %-18s %d %6d bytes %5dms (%s)\n", n, s.method, s.path, st, got,
		time.Since(start).Milliseconds(), s.note)
	return st
}

// send sends one request and reads the whole answer.
func (d *driver) send(s step) (status int, bodyBytes int64, err error) {
	var body io.Reader
	if s.body > 0 {
		body = bytes.NewReader(bytes.Repeat([]byte("b"), s.body))
	}
	req, err := http.NewRequest(s.method, d.base+s.path, body)
	if err != nil {
		log.Fatalf("drive: %s %s: %v", s.method, s.path, err)
	}
	req.Close = s.close
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	got, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, got, nil
}
