package httpmatch

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
)

// headerInfo is what the parser needs from a header block: framing,
// persistence and the few fields the correlation uses.
type headerInfo struct {
	host      []byte // aliases the header buffer
	server    []byte // Server, aliases the header buffer
	length    int64
	hasLength bool
	badLength bool
	te        bool // Transfer-Encoding present
	chunked   bool // and its final coding is chunked
	close     bool
	keepAlive bool
	expect100 bool
	badField  bool // a field name with a byte that is not a token character, or a NUL in a value
}

// parseHeader reads the field lines of a header block (after the start
// line) up to and including the empty line that ends it, and returns where
// that line ends in b, or -1 if b ends before it: the parser calls it on
// the bytes of a Data call in the hope that they hold the whole block. It
// does not allocate.
func parseHeader(b []byte) (hi headerInfo, end int) {
	for end < len(b) {
		rest := b[end:]
		// Read the name up to the colon (or the line end) byte by byte,
		// checking that it is a token (RFC 9110 section 5.1: proxies
		// reject a header with anything else in a name, nginx saying
		// "upstream sent invalid header"). Names are short: this spares
		// an IndexByte call and a second loop per line.
		k, token := 0, true
		for k < len(rest) && isTchar(rest[k]) {
			k++
		}
		if k < len(rest) && rest[k] != ':' && rest[k] != '\n' {
			token = false
			for k < len(rest) && rest[k] != ':' && rest[k] != '\n' {
				k++
			}
		}
		eol, nul := k, false
		if k < len(rest) && rest[k] == ':' {
			eol = len(rest)
			if i, z := indexLF(rest[k+1:]); i >= 0 {
				eol, nul = k+1+i, z
			}
		}
		if eol == len(rest) {
			break
		}
		end += eol + 1
		line := rest[:eol]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			return hi, end
		}
		// obs-fold continues a field we do not need to read
		// (RFC 9112 section 5.2); lines without a colon are ignored.
		if line[0] == ' ' || line[0] == '\t' || k == 0 || k == eol {
			continue
		}
		name, value := line[:k], trimOWS(line[k+1:])
		if !token || nul {
			hi.badField = true
		}
		// The switch on the name's length spares most comparisons. Each
		// name is first compared as it is usually written: a comparison
		// with a short constant is a few word loads, and equalFold, a loop
		// over the bytes, is then left to the other spellings.
		switch len(name) {
		case len("host"):
			if hi.host == nil && (string(name) == "Host" || equalFold(name, "host")) {
				hi.host = value
			}
		case len("server"):
			switch {
			case string(name) == "Server" || equalFold(name, "server"):
				if hi.server == nil {
					hi.server = value
				}
			case equalFold(name, "expect"):
				hi.expect100 = hi.expect100 || equalFold(value, "100-continue")
			}
		case len("connection"):
			if string(name) == "Connection" || equalFold(name, "connection") {
				hi.connection(value)
			}
		case len("content-length"):
			if string(name) == "Content-Length" || equalFold(name, "content-length") {
				hi.addLength(value)
			}
		case len("transfer-encoding"):
			if equalFold(name, "transfer-encoding") && len(value) > 0 {
				hi.te = true
				hi.chunked = equalFold(lastElement(value), "chunked")
			}
		}
	}
	return hi, -1
}

// indexLF returns the index of the first '\n' in b (the end of a field
// line), or -1, and whether a NUL comes before it. Most values are short:
// reading their first words here, inline, costs less than calls to
// bytes.IndexByte, whose vector loop pays off on long ones; and looking
// for the NUL in the same words spares a pass over the block.
func indexLF(b []byte) (int, bool) {
	const ones, highs, lfs = 0x0101010101010101, 0x8080808080808080, 0x0a0a0a0a0a0a0a0a
	i := 0
	for ; i < 32 && i+8 <= len(b); i += 8 {
		// A zero byte in x is a '\n' in b, in w a NUL; the lowest bit set
		// in each mask marks the first of them (a borrow only runs upward
		// from a zero byte).
		w := binary.LittleEndian.Uint64(b[i:])
		x := w ^ lfs
		lf, nul := (x-ones)&^x&highs, (w-ones)&^w&highs
		if lf|nul == 0 {
			continue
		}
		if nul == 0 || lf != 0 && bits.TrailingZeros64(lf) < bits.TrailingZeros64(nul) {
			return i + bits.TrailingZeros64(lf)/8, false
		}
		// A NUL first: rare, the rest the plain way.
		if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
			return i + j, true
		}
		return -1, true
	}
	// Not in the first words: the rest is long, or shorter than a word.
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return -1, false
	}
	return i + j, bytes.IndexByte(b[i:i+j], 0) >= 0
}

// connection takes the tokens of a Connection field value.
func (hi *headerInfo) connection(value []byte) {
	// Most values are one token, as written here: spare the list walk.
	switch string(value) {
	case "keep-alive":
		hi.keepAlive = true
		return
	case "close":
		hi.close = true
		return
	}
	for len(value) > 0 {
		var tok []byte
		tok, value = nextElement(value)
		switch {
		case equalFold(tok, "close"):
			hi.close = true
		case equalFold(tok, "keep-alive"):
			hi.keepAlive = true
		}
	}
}

// addLength takes one Content-Length field value. A list of identical
// values, in one field or several, is one length (RFC 9112 section 6.3,
// item 5); anything else makes the length invalid, and an invalid length
// is never trusted.
func (hi *headerInfo) addLength(value []byte) {
	if n, ok := parseDecimal(value); ok {
		// One number, the common case: what the list walk would find.
		if hi.hasLength && n != hi.length {
			hi.badLength = true
			return
		}
		hi.length, hi.hasLength = n, true
		return
	}
	for len(value) > 0 {
		var elem []byte
		elem, value = nextElement(value)
		if len(elem) == 0 {
			continue
		}
		n, ok := parseDecimal(elem)
		if !ok || (hi.hasLength && n != hi.length) {
			hi.badLength = true
			return
		}
		hi.length, hi.hasLength = n, true
	}
	if !hi.hasLength {
		hi.badLength = true
	}
}

// parseDecimal parses 1*DIGIT into an int64; signs and overflow are invalid.
func parseDecimal(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, len(b) > 0
}

// parseChunkSize parses a chunk-size line: 1*HEXDIG [BWS ; chunk-ext] CRLF.
// Sizes that do not fit in an int64 are invalid.
func parseChunkSize(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if n > (math.MaxInt64-d)/16 {
			return 0, false
		}
		n = n*16 + d
	}
	if i == 0 {
		return 0, false
	}
	rest := trimOWS(line[i:])
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	return n, true
}

func unhex(c byte) int64 {
	switch {
	case '0' <= c && c <= '9':
		return int64(c - '0')
	case 'a' <= c && c <= 'f':
		return int64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int64(c-'A') + 10
	}
	return -1
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextElement splits the first element off a comma-separated list.
func nextElement(list []byte) (elem, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return trimOWS(list[:i]), list[i+1:]
	}
	return trimOWS(list), nil
}

func lastElement(b []byte) []byte {
	if i := bytes.LastIndexByte(b, ','); i >= 0 {
		b = b[i+1:]
	}
	return trimOWS(b)
}

// equalFold compares b with a lower-case ASCII string, ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
