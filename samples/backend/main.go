// Command backend is a deliberately misbehaving HTTP server for staging the
// upstream failures that make a proxy answer 502 or 504 (see CAUSES.md).
// make-samples.sh runs it behind nginx and captures both sides.
//
// Endpoints, and what nginx makes of each:
//
//	/ok        200 with a small body; /ok?size=N for an N-byte body
//	/slow      handler outlasts WriteTimeout: Go closes (FIN) without a response
//	           -> "upstream prematurely closed connection" (502)
//	/reset     hijack, SetLinger(0), Close: RST instead of a response
//	           -> "recv() failed (104: Connection reset by peer)" (502)
//	/exit      os.Exit mid-request: the kernel closes (FIN); the listener is gone
//	           until the supervisor (make-samples.sh) restarts the process
//	           -> "upstream prematurely closed connection", then
//	           "connect() failed (111: Connection refused)" while it is down (502)
//	/garbage   bytes that are not an HTTP response
//	/badheader a status line, then a header with a NUL byte in its name
//	           -> "upstream sent invalid header" (502)
//	/hang      silent past the proxy's read timeout
//	           -> "upstream timed out (110: Connection timed out)" (504)
//	/502       the backend itself answers 502 (passed on, nothing in error.log)
//	/work      200 after ?ms=N milliseconds of "work" (default 100, at most 30000);
//	           with -kill-after, a slow one is cut off by the deadline
//
// -kill-after D closes every connection D after its request arrived unless
// the handler finished first, without a response: a worker timeout the way
// gunicorn's --timeout or uWSGI's harakiri enforce it (they kill the worker,
// the kernel closes its socket), unlike Go's WriteTimeout, which waits for
// the handler to return. -> "upstream prematurely closed connection" (502)
//
// Only the standard library is used, so the sample generator needs nothing
// beyond the Go toolchain.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// exitCode is what /exit exits with, so a supervisor can tell a staged crash
// from a real failure and restart only after the former.
const exitCode = 3

type config struct {
	listen       []string
	writeTimeout time.Duration
	idleTimeout  time.Duration
	slow         time.Duration
	hang         time.Duration
	killAfter    time.Duration
	pidFile      string
}

func main() {
	var cfg config
	var listen string
	flag.StringVar(&listen, "listen", "127.0.0.1:8081", "comma-separated listen addresses (host:port, [v6]:port)")
	flag.DurationVar(&cfg.writeTimeout, "write-timeout", 200*time.Millisecond, "http.Server WriteTimeout; /slow outlasts it")
	flag.DurationVar(&cfg.idleTimeout, "idle-timeout", 30*time.Second, "http.Server IdleTimeout for keep-alive connections")
	flag.DurationVar(&cfg.slow, "slow", 0, "how long /slow works before answering (default write-timeout + 100ms; keep it well under the proxy's read timeout)")
	flag.DurationVar(&cfg.hang, "hang", 3*time.Second, "how long /hang stays silent (more than the proxy's read timeout)")
	flag.DurationVar(&cfg.killAfter, "kill-after", 0, "close each connection this long after its request arrived if the handler has not finished (0: never); a gunicorn/uWSGI-style worker timeout")
	flag.StringVar(&cfg.pidFile, "pidfile", "", "write the process id here once listening")
	flag.Parse()
	for _, a := range strings.Split(listen, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.listen = append(cfg.listen, a)
		}
	}
	if cfg.slow == 0 {
		cfg.slow = cfg.writeTimeout + 100*time.Millisecond
	}
	if err := run(cfg); err != nil {
		log.Fatalf("backend: %v", err)
	}
}

func run(cfg config) error {
	if len(cfg.listen) == 0 {
		return errors.New("no -listen address")
	}
	var h http.Handler = newMux(cfg)
	if cfg.killAfter > 0 {
		h = killAfter(cfg.killAfter, h)
	}
	srv := &http.Server{
		Handler:      h,
		ConnContext:  func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		WriteTimeout: cfg.writeTimeout,
		IdleTimeout:  cfg.idleTimeout,
		ErrorLog:     log.New(io.Discard, "", 0), // hijacked and timed-out connections are the point, not news
	}
	var lns []net.Listener
	for _, a := range cfg.listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	if cfg.pidFile != "" {
		if err := os.WriteFile(cfg.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("write pid file: %w", err)
		}
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		log.Printf("backend: %v, stopped", s)
		return nil
	case err := <-errc:
		return err
	}
}

func newMux(cfg config) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", handleOK)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// The response is written after WriteTimeout has passed: net/http
		// fails the write and closes the connection without sending a byte.
		drain(r)
		sleep(r.Context(), cfg.slow)
		fmt.Fprintf(w, "too late\n")
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		c := hijack(w)
		if c == nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends RST, not FIN
		}
		c.Close()
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		log.Printf("backend: /exit: exiting with %d mid-request", exitCode)
		os.Exit(exitCode)
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		c := hijack(w)
		if c == nil {
			return
		}
		_, _ = io.WriteString(c, "SSH-2.0-NotHTTP\r\n\x00\x01\x02 this is not an HTTP response\r\n\r\n")
		c.Close()
	})
	mux.HandleFunc("/badheader", func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		c := hijack(w)
		if c == nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nBad\x00Name: x\r\n\r\nok\n")
		c.Close()
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		// Returns early when the proxy gives up and closes, so a hung
		// handler never outlives the run.
		sleep(r.Context(), cfg.hang)
		fmt.Fprintf(w, "woke up\n")
	})
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil {
			ms = 100
		}
		if ms < 0 || ms > 30000 {
			http.Error(w, "ms must be 0..30000", http.StatusBadRequest)
			return
		}
		sleep(r.Context(), time.Duration(ms)*time.Millisecond)
		fmt.Fprintf(w, "worked %d ms\n", ms)
	})
	mux.HandleFunc("/502", func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		http.Error(w, "backend says bad gateway", http.StatusBadGateway)
	})
	return mux
}

// connKey is the request context key of the request's net.Conn (set by
// http.Server.ConnContext).
type connKey struct{}

// killAfter closes the connection d after the request arrived unless h
// returned first: no response, the kernel sends FIN (the body is drained, so
// nothing unread turns it into RST).
func killAfter(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(connKey{}).(net.Conn)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		t := time.AfterFunc(d, func() {
			log.Printf("backend: %s %s: worker timeout %v, closing the connection", r.Method, r.URL, d)
			c.Close()
		})
		defer t.Stop()
		h.ServeHTTP(w, r)
	})
}

// handleOK answers 200 with a body of ?size=N bytes (default 16, at most 1 MiB).
func handleOK(w http.ResponseWriter, r *http.Request) {
	drain(r)
	n := 16
	if s := r.URL.Query().Get("size"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 1<<20 {
			http.Error(w, "size must be 0..1048576", http.StatusBadRequest)
			return
		}
		n = v
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	line := []byte("why502 sample ok\n") // 17 bytes, repeated and cut to n
	bw := bufio.NewWriter(w)
	for n > 0 {
		k := min(n, len(line))
		bw.Write(line[:k])
		n -= k
	}
	bw.Flush()
}

// drain reads the request body so that a close is not turned into a RST by
// unread data (the kernel resets a socket closed with bytes still queued).
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
}

func hijack(w http.ResponseWriter) net.Conn {
	h, ok := w.(http.Hijacker)
	if !ok {
		return nil
	}
	c, _, err := h.Hijack()
	if err != nil {
		return nil
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
