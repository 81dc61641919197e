#!/bin/bash
# compare.sh: time why502 against the decode-only floor and tshark on the
# same capture, in one run, and check its incidents against nginx's log.
#
# Usage: bench/compare.sh [--row FILE] [--runs N] CAPTURE [ACCESS_LOG]
#   CAPTURE     a pcap (e.g. from `sudo samples/make-large.sh` or
#               `sudo samples/make-load.sh`)
#   ACCESS_LOG  nginx's access log of the same run, in why502's log format
#               (samples.AccessFormat, as make-large.sh writes it); default
#               CAPTURE.access.log when that exists
#   --row FILE  also append this capture's line of the summary table
#               (Markdown, the columns bench/run.sh prints) to FILE
#   --runs N    run the floor, flows and analyze N times each, interleaved,
#               and keep each one's fastest run (default 5): on a shared or
#               virtual machine single runs vary by tens of percent, and
#               the fastest is the one least disturbed; the peak RSS is the
#               largest of the runs. tshark runs once.
#
# Builds bench/floor, why502 and bench/incidents, warms the page cache, then
# runs each under GNU time (peak RSS, CPU; wall time to the millisecond): the floor (read + decode to TCP, nothing
# else), `why502 flows --format jsonl`, `why502 analyze --format json` and,
# when installed, `tshark -r CAPTURE -Y 'http.response.code >= 500'`. Prints
# per command: wall and CPU time, MB/s, packets/s, peak RSS, the ratio to the
# floor and to tshark. Then the incident set: each 5xx line of the log is
# matched to an incident of analyze's JSON by client ip:port, status and time
# (bench/incidents), with the counts matched, missing and extra and up to 10
# of each listed. Exits 1 when the sets differ.
set -euo pipefail
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 2; }
rowfile=
runs=5
while [ $# -ge 2 ]; do
	case $1 in
	--row) rowfile=$2 ;;
	--runs) runs=$2 ;;
	*) break ;;
	esac
	shift 2
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
{ [ $# -ge 1 ] && [ $# -le 2 ]; } || usage
cap=$1
log=${2:-}
[ -z "$log" ] && [ -f "$cap.access.log" ] && log=$cap.access.log
[ -f "$cap" ] || { echo "compare: no such file: $cap" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "compare: needs GNU time (/usr/bin/time; Debian package time)" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/why502-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT

(cd "$here" && go build -o "$work/floor" ./bench/floor && go build -o "$work/incidents" ./bench/incidents &&
	CGO_ENABLED=0 go build -o "$work/why502" ./cmd/why502)
bytes=$(stat -c %s "$cap")
cat "$cap" >/dev/null # warm the page cache so every command reads from memory

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(awk '/^MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), Linux $(uname -r)"
echo "tools: $(go version | awk '{print $3}'), $(command -v tshark >/dev/null && tshark -v 2>/dev/null | head -1 | awk '{print "tshark " $3}' || echo 'no tshark'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# measure NAME CMD...: runs CMD, stdout to $work/NAME.out; $work/NAME.time
# gets a line of wall seconds, peak RSS in KB and user CPU and system CPU
# seconds. GNU time gives the RSS and the CPU times; its wall time has
# hundredths of a second, 5 % of the small capture's analysis, so the wall
# time is taken around it to the millisecond (it then includes GNU time's
# own start, about a millisecond, for every command alike).
measure() {
	local name=$1 t0 t1
	shift
	t0=$(date +%s%N)
	if ! /usr/bin/time -f "%M %U %S" -o "$work/$name.rss" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
		echo "compare: $name failed:" >&2
		tail -5 "$work/$name.err" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) $(cat "$work/$name.rss")" | awk '{ printf "%.3f %s %s %s\n", $1 / 1000, $2, $3, $4 }' >>"$work/$name.time"
}
for ((i = 0; i < runs; i++)); do
	measure floor "$work/floor" "$cap"
	measure flows "$work/why502" flows --format jsonl "$cap"
	measure analyze "$work/why502" analyze --format json "$cap"
done
# best NAME: keep the fastest run's line, with the largest peak RSS.
best() {
	sort -n "$work/$1.time" | awk 'NR == 1 { l = $0 } $2 > m { m = $2 } END { split(l, f, " "); print f[1], m, f[3], f[4] }' >"$work/$1.best"
	mv "$work/$1.best" "$work/$1.time"
}
best floor
best flows
best analyze
have_tshark=0
if command -v tshark >/dev/null; then
	have_tshark=1
	measure tshark tshark -r "$cap" -Y 'http.response.code >= 500'
fi
packets=$(sed -n 's/^floor: \([0-9]*\) frames.*/\1/p' "$work/floor.out")
[ -n "$packets" ] || { echo "compare: no frame count from the floor: $(cat "$work/floor.out")" >&2; exit 1; }
secs_of() { awk '{print ($1 > 0) ? $1 : 0.001}' "$work/$1.time"; } # wall time to the millisecond
floor_s=$(secs_of floor)
tshark_s=0
[ $have_tshark = 1 ] && tshark_s=$(secs_of tshark)
analyze_s=$(secs_of analyze)

echo "capture: $cap ($bytes bytes, $packets packets)"
printf '%-8s %9s %9s %11s %13s %9s %9s %10s\n' command wall cpu MB/s packets/s "peak RSS" "of floor" "vs tshark"
row() { # NAME
	awk -v n="$1" -v b="$bytes" -v p="$packets" -v f="$floor_s" -v t="$tshark_s" '{
		s = ($1 > 0) ? $1 : 0.001
		printf "%-8s %7.3f s %7.2f s %11.1f %13.0f %6.0f MB %8.0f %% %9s\n", n, s, $3 + $4, b / s / 1e6, p / s, $2 / 1024,
			100 * f / s, (t > 0) ? sprintf("%.1fx", t / s) : "-"
	}' "$work/$1.time"
}
row floor
row flows
row analyze
[ $have_tshark = 1 ] && row tshark
echo "(fastest of $runs runs for floor, flows and analyze, peak RSS the largest; of floor: the floor's time / this time; vs tshark: tshark's time / this time, how many times faster)"

found=$(sed -n 's/.*"responses_5xx": *\([0-9]*\).*/\1/p' "$work/analyze.out")
echo "why502 analyze: $found 5xx sent by the proxy"
[ $have_tshark = 1 ] && echo "tshark: $(grep -c . "$work/tshark.out" || true) frames with http.response.code >= 500 (front and upstream side both)"

matched=-
same=1
if [ -n "$log" ]; then
	rc=0
	"$work/incidents" "$log" "$work/analyze.out" >"$work/incidents.txt" || rc=$?
	cat "$work/incidents.txt"
	[ $rc -le 1 ] || exit 1
	[ $rc = 0 ] || same=0
	matched=$(sed -n 's/^incident set: [A-Z]*: matched \([0-9]*\) of \([0-9]*\) .*; missing \([0-9]*\), extra \([0-9]*\) .*/\1\/\2 (missing \3, extra \4)/p' "$work/incidents.txt")
else
	echo "incident set: not checked (no access log: pass ACCESS_LOG)"
fi

if [ -n "$rowfile" ]; then
	rss_mb=$(awk '{printf "%.0f", $2 / 1024}' "$work/analyze.time")
	awk -v name="$(basename "$cap")" -v b="$bytes" -v p="$packets" -v f="$floor_s" -v a="$analyze_s" -v t="$tshark_s" \
		-v fl="$(secs_of flows)" -v rss="$rss_mb" -v m="$matched" '
	function commas(n,   s) { s = sprintf("%d", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
	BEGIN {
		size = (b >= 1e9) ? sprintf("%.2f GB", b / 1e9) : sprintf("%.1f MB", b / 1e6)
		printf "| %s | %s | %s | %.0f | %.0f | %.0f | %.0f %% | %s | %s | %s MB | %s |\n", name, size, commas(p),
			b / f / 1e6, b / fl / 1e6, b / a / 1e6, 100 * f / a,
			(t > 0) ? sprintf("%.1f", t) : "-", (t > 0) ? sprintf("%.1fx", t / a) : "-", rss, m
	}' >>"$rowfile"
fi
[ $same = 1 ]
