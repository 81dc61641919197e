// Command tapdelay joins two TAP devices like a cable with a fixed one-way
// delay: every Ethernet frame read from one device is written to the other
// after -delay. make-samples.sh puts one device in the gateway namespace
// (nginx) and the other in the backend namespace, which adds latency between
// proxy and backend while every TCP connection stays end to end (a TCP relay
// would terminate connections and change who sends FIN and RST).
//
// It exists because the kernels these samples are made on have no netem
// qdisc (LAB.md). It creates the devices itself (non-persistent, so they
// vanish when it exits); the caller moves them into namespaces with
// `ip link set DEV netns NS`. Standard library only.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	tunSetIff = 0x400454ca // TUNSETIFF, _IOW('T', 202, int)
	iffTap    = 0x0002
	iffNoPI   = 0x1000
	maxFrame  = 65536 + 14
	// queueLen bounds the frames in flight per direction; at the samples'
	// rates (a few hundred frames a second) it is never reached, and a
	// full queue drops the frame as a congested link would.
	queueLen = 4096
)

// ifreq is the part of struct ifreq that TUNSETIFF reads (40 bytes on Linux).
type ifreq struct {
	name  [16]byte
	flags uint16
	_     [22]byte
}

func openTap(name string) (*os.File, error) {
	if len(name) >= 16 {
		return nil, fmt.Errorf("tap name %q longer than 15 bytes", name)
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req ifreq
	copy(req.name[:], name)
	req.flags = iffTap | iffNoPI
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&req))); e != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, e)
	}
	return os.NewFile(uintptr(fd), name), nil
}

type frame struct {
	due time.Time
	b   []byte
}

type counters struct{ frames, dropped atomic.Int64 }

// pipe forwards frames from src to dst, each one delay after it was read.
// The delay is the same for every frame, so order is kept.
func pipe(src, dst *os.File, delay time.Duration, c *counters) {
	q := make(chan frame, queueLen)
	go func() {
		for f := range q {
			if d := time.Until(f.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(f.b); err != nil && !errors.Is(err, syscall.EIO) {
				log.Printf("tapdelay: write %s: %v", dst.Name(), err)
			}
		}
	}()
	for {
		b := make([]byte, maxFrame)
		n, err := src.Read(b)
		if err != nil {
			if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EAGAIN) {
				// EIO: the device is down (not yet moved or brought up).
				time.Sleep(10 * time.Millisecond)
				continue
			}
			log.Fatalf("tapdelay: read %s: %v", src.Name(), err)
		}
		c.frames.Add(1)
		select {
		case q <- frame{time.Now().Add(delay), b[:n]}:
		default:
			c.dropped.Add(1)
		}
	}
}

func main() {
	a := flag.String("a", "tapa", "name of the first TAP device")
	b := flag.String("b", "tapb", "name of the second TAP device")
	delay := flag.Duration("delay", 25*time.Millisecond, "one-way delay added to every frame, both directions")
	pidFile := flag.String("pidfile", "", "write the process id here once both devices exist")
	lifetime := flag.Duration("lifetime", 10*time.Minute, "exit after this long even if nobody stops it (the devices go with it)")
	flag.Parse()

	fa, err := openTap(*a)
	if err != nil {
		log.Fatalf("tapdelay: %v", err)
	}
	fb, err := openTap(*b)
	if err != nil {
		log.Fatalf("tapdelay: %v", err)
	}
	if *pidFile != "" {
		if err := os.WriteFile(*pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Fatalf("tapdelay: %v", err)
		}
	}
	var ab, ba counters
	go pipe(fa, fb, *delay, &ab)
	go pipe(fb, fa, *delay, &ba)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(*lifetime):
		log.Printf("tapdelay: -lifetime %v reached", *lifetime)
	}
	log.Printf("tapdelay: %s->%s %d frames (%d dropped), %s->%s %d frames (%d dropped), delay %v",
		*a, *b, ab.frames.Load(), ab.dropped.Load(), *b, *a, ba.frames.Load(), ba.dropped.Load(), *delay)
}
