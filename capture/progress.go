package capture

import (
	"io"
	"os"
	"sync/atomic"
)

// progress counts the bytes Open's readers have taken from their files, for
// a progress line drawn by another goroutine. It counts per Read of the
// underlying file (the readers above it read 256 KiB at a time), so the
// counting costs nothing per packet.
type progress struct {
	read  atomic.Int64
	total int64 // sum of the sizes of the inputs; -1 when one of them has no size (a pipe, standard input)
}

// countingReader counts what r reads into n. Under a gzip reader it counts
// compressed bytes, which is what the file's size is in.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// source wraps r so that its reads are counted, and adds its size to the
// total when sized and a regular file; after a source without a known
// size the total stays unknown. Standard input is not sized even when it
// is a regular file: it may have been read from before.
func (p *progress) source(r io.Reader, sized bool) io.Reader {
	if sized && p.total >= 0 {
		if f, ok := r.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				p.total += fi.Size()
				return countingReader{r, &p.read}
			}
		}
	}
	p.total = -1
	return countingReader{r, &p.read}
}

// Progress returns the bytes read so far from the files given to Open and
// their total size, or total 0 when it is not known (standard input, a
// pipe). For gzip-compressed files both count compressed bytes. Read runs
// ahead of the packets returned by up to the read buffer (256 KiB per
// file). It is safe to call from another goroutine while Next runs. A
// Reader from NewReader or OpenLive returns 0, 0.
func (r *Reader) Progress() (read, total int64) {
	if r.progress == nil {
		return 0, 0
	}
	return r.progress.read.Load(), max(r.progress.total, 0)
}
