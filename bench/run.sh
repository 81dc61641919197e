#!/bin/bash
# run.sh: record the two benchmark captures and compare on each: the numbers
# of the README's performance table, in one go.
#
# Usage: sudo bench/run.sh [-o DIR] [-r]
#   DIR  where the captures go (default /tmp/why502-bench), each with nginx's
#        access.log and error.log and a .meta beside it
#   -r   reuse the captures already in DIR when they are complete (recorded
#        with 0 packets dropped), instead of recording them again
#
# The captures (samples/make-large.sh, real nginx and wrk, failures of every
# cheap kind mixed in; not committed):
#   keepalive-200B.pcap  ~100 MB of small keep-alive requests, 200-byte
#                        bodies: packet-rate bound (-s 100000000 -b 200)
#   bodies-20KB.pcap     >= 2 GiB, 20 KB bodies: byte-rate bound
#                        (-s 2200000000 -b 20000)
# then bench/compare.sh on each (floor, flows, analyze, tshark; incident set
# against the access log), and at the end the machine, the drop counts and
# one Markdown table to paste into the README. Takes about 5 minutes (tshark
# on the large capture alone 2-3, with 3+ GB of RAM). Exits 1 when a
# capture's incident set differs from its access log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=/tmp/why502-bench
reuse=0
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 2; }
while getopts "o:rh" opt; do
	case $opt in
	o) dir=$OPTARG ;;
	r) reuse=1 ;;
	*) usage ;;
	esac
done
[ $OPTIND -gt $# ] || usage
mkdir -p "$dir"
rows=$(mktemp /tmp/why502-run.XXXXXX)
trap 'rm -f "$rows"' EXIT

# name, then make-large.sh's arguments (-d: a cap, the size ends each run)
captures=(
	"keepalive-200B.pcap|-s 100000000 -b 200 -d 60"
	"bodies-20KB.pcap|-s 2200000000 -b 20000 -d 180"
)
status=0
for c in "${captures[@]}"; do
	name=${c%%|*}
	read -r -a args <<<"${c#*|}"
	f=$dir/$name
	if [ $reuse = 1 ] && [ -f "$f" ] && [ -f "$f.access.log" ] && grep -q '^tcpdump_dropped=0$' "$f.meta" 2>/dev/null; then
		echo "== $name: reusing $f"
	else
		echo "== $name: recording (samples/make-large.sh ${args[*]})"
		"$here/../samples/make-large.sh" -o "$f" "${args[@]}"
	fi
	echo "== $name: compare"
	"$here/compare.sh" --row "$rows" "$f" "$f.access.log" || status=1
	echo
done

echo "== summary"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs ($(lscpu | sed -n 's/^Core(s) per socket: *//p') cores per socket, $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread per core), $(awk '/^MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), Linux $(uname -r), $(go version | awk '{print $3}')"
for c in "${captures[@]}"; do
	f=$dir/${c%%|*}
	echo "$(basename "$f"): $(sed -n 's/^tcpdump_stats=//p' "$f.meta"); recorded with make-large.sh ${c#*|} ($(sed -n 's/^load_seconds=//p' "$f.meta") s of load)"
done
echo
echo "| capture | size | packets | floor MB/s | flows MB/s | analyze MB/s | analyze % of floor | tshark s | analyze x tshark | RSS analyze | incidents matched |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
cat "$rows"
exit $status
