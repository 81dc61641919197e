package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// ParseBPFDecimal parses a classic BPF program in the form "tcpdump -ddd"
// prints: a line with the instruction count, then one line per instruction
// with four decimal numbers, "code jt jf k". Blank lines are ignored. The
// kernel checks the program itself when it is attached; this checks only
// the form, the count and the field ranges.
func ParseBPFDecimal(text []byte) ([]bpf.RawInstruction, error) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 4096)
	var prog []bpf.RawInstruction
	want, line := -1, 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if want < 0 {
			n, err := strconv.ParseUint(fields[0], 10, 16)
			if len(fields) != 1 || err != nil || n == 0 || n > maxInstructions {
				return nil, fmt.Errorf("line %d: want the instruction count (1 to %d) alone on the first line, as tcpdump -ddd prints it; got %q", line, maxInstructions, sc.Text())
			}
			want = int(n)
			prog = make([]bpf.RawInstruction, 0, want)
			continue
		}
		if len(prog) == want {
			return nil, fmt.Errorf("line %d: more instructions than the %d announced", line, want)
		}
		if len(fields) != 4 {
			return nil, fmt.Errorf("line %d: want four decimal numbers \"code jt jf k\"; got %q", line, sc.Text())
		}
		var v [4]uint64
		for i, bitSize := range []int{16, 8, 8, 32} {
			n, err := strconv.ParseUint(fields[i], 10, bitSize)
			if err != nil {
				return nil, fmt.Errorf("line %d: field %d %q: want a decimal number of at most %d bits", line, i+1, fields[i], bitSize)
			}
			v[i] = n
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if want < 0 {
		return nil, fmt.Errorf("empty BPF program text; want the output of tcpdump -ddd")
	}
	if len(prog) < want {
		return nil, fmt.Errorf("%d instructions announced, %d given", want, len(prog))
	}
	return prog, nil
}
