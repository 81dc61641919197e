#!/bin/bash
# compare.sh: time why502 against the decode-only floor and tshark on the
# same capture, in one run, and check the incidents against nginx's log.
#
# Usage: bench/compare.sh CAPTURE [ACCESS_LOG]
#   CAPTURE     a pcap (e.g. from `sudo samples/make-load.sh` or
#               `sudo samples/make-large.sh`)
#   ACCESS_LOG  nginx's access log of the same run (why502's log format,
#               status in field 8); when given, the count of 5xx found is
#               compared with it
#
# Prints, per command: wall time, MB/s, packets/s, peak RSS (GNU time), the
# ratio to the floor and to tshark. tshark runs only if it is installed
# (`tshark -r FILE -Y 'http.response.code >= 500'`).
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
cap=$1
log=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/why502-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -x /usr/bin/time ] || { echo "compare: needs GNU time (/usr/bin/time; Debian package time)" >&2; exit 1; }

(cd "$here" && go build -o "$work/floor" ./bench/floor && CGO_ENABLED=0 go build -o "$work/why502" ./cmd/why502)
bytes=$(stat -c %s "$cap")
cat "$cap" >/dev/null # warm the page cache so every command reads from memory

# measure NAME CMD...: runs CMD, stdout to $work/NAME.out, records seconds and KB.
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err"
}
measure floor "$work/floor" "$cap"
measure flows "$work/why502" flows --format jsonl "$cap"
measure analyze "$work/why502" analyze --format json "$cap"
have_tshark=0
if command -v tshark >/dev/null; then
	have_tshark=1
	measure tshark tshark -r "$cap" -Y 'http.response.code >= 500'
fi
packets=$(sed -n 's/^floor: \([0-9]*\) frames.*/\1/p' "$work/floor.out")

row() { # NAME
	read -r secs kb <"$work/$1.time"
	awk -v n="$1" -v s="$secs" -v kb="$kb" -v b="$bytes" -v p="$packets" -v f="$floor_s" -v t="${tshark_s:-0}" 'BEGIN {
		if (s <= 0) s = 0.001
		r = (f > 0) ? sprintf("%.0f %%", 100 * f / s) : "-"
		x = (t > 0) ? sprintf("%.1fx", t / s) : "-"
		printf "%-10s %8.2f s %9.1f MB/s %11.0f pkt/s %8.0f MB RSS   floor ratio %6s   vs tshark %7s\n", n, s, b / s / 1e6, p / s, kb / 1024, r, x
	}'
}
read -r floor_s _ <"$work/floor.time"
[ $have_tshark = 1 ] && read -r tshark_s _ <"$work/tshark.time"
echo "capture: $cap ($bytes bytes, $packets packets)"
row floor
row flows
row analyze
[ $have_tshark = 1 ] && row tshark

found=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['summary']['responses_5xx'])" "$work/analyze.out")
echo "why502 analyze: $found 5xx"
if [ $have_tshark = 1 ]; then
	echo "tshark: $(grep -c . "$work/tshark.out" || true) packets with http.response.code >= 500 (both sides: front and upstream)"
fi
if [ -n "$log" ]; then
	want=$(awk '$8 >= 500' "$log" | wc -l)
	if [ "$found" = "$want" ]; then
		echo "incidents: $found = $want 5xx in $log"
	else
		echo "incidents: $found, but $want 5xx in $log"
	fi
fi
