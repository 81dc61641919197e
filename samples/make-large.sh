#!/bin/bash
# make-large.sh: record a large capture for measuring why502's speed.
#
# Usage: sudo samples/make-large.sh [-o FILE] [-s BYTES] [-d SECONDS] [-b BODY_BYTES]
#                                   [-c CONNS] [-t THREADS] [-B KIB] [-w DIR]
#   FILE        where the pcap goes (default /tmp/why502-large.pcap); beside it:
#               FILE.access.log and FILE.error.log (nginx's, the truth) and
#               FILE.meta (settings, tcpdump's final stats, wrk's summary)
#   BYTES       stop the load once the capture holds BYTES (default 0: run for
#               SECONDS); the file ends a little larger (the in-flight
#               requests finish): 100000000 for ~100 MB, 2200000000 for >= 2 GiB
#   SECONDS     how long wrk drives load at most (default 20; with -s, a cap)
#   BODY_BYTES  response body of the successful requests (default 200: small
#               keep-alive exchanges, packet-rate bound; 20000 makes it byte-rate bound)
#   CONNS       concurrent client connections (default 16)
#   THREADS     wrk threads (default 1)
#   KIB         tcpdump's ring buffer, -B (default 262144: 256 MiB)
#   DIR         where tcpdump writes before the file is moved to FILE (default
#               /dev/shm when it has room for the capture, else FILE's directory)
#
# Real nginx in front of samples/backend on the loopback of a network
# namespace of its own (MTU 1500, one segment per GSO packet, as
# make-samples.sh does; the host's lo is not touched), driven by wrk with
# mostly successes and a steady share of every failure nginx turns into a
# 5xx that costs nothing to stage: /502 (the backend's own 502), /reset (RST,
# 502), /badheader (invalid header, 502), /refused/x (an upstream port
# nobody listens on, 502), /slow (the backend's write timeout closes first,
# 502) and /hang (silent past proxy_read_timeout 1s, 504). Each wrk thread
# sends, per 5000 requests: 10 of each of the first four, 2-3 /slow, 1 /hang.
#
# No kernel drops: on a machine with 2 or more CPUs tcpdump gets the last CPU
# to itself (taskset) and everything else (nginx, backend, wrk) the others;
# tcpdump writes to tmpfs with a 256 MiB ring. Its final stats are checked:
# when it reports any packet "dropped by kernel" or "by interface", the
# script says so loudly and exits 3 (the files stay, for a look).
#
# Needs root, nginx, tcpdump, wrk, Go and iproute2. The files are not
# committed: bench/run.sh makes them on demand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
outfile=/tmp/why502-large.pcap
size=0
secs=20
body=200
conns=16
threads=1
bufkib=262144
stage=
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 2; }
while getopts "o:s:d:b:c:t:B:w:h" opt; do
	case $opt in
	o) outfile=$OPTARG ;;
	s) size=$OPTARG ;;
	d) secs=$OPTARG ;;
	b) body=$OPTARG ;;
	c) conns=$OPTARG ;;
	t) threads=$OPTARG ;;
	B) bufkib=$OPTARG ;;
	w) stage=$OPTARG ;;
	*) usage ;;
	esac
done
[ $OPTIND -gt $# ] || usage
die() { echo "make-large: $*" >&2; exit 1; }
for v in size secs body conns threads bufkib; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "-$v: not a number: ${!v}"
done
[ "$(id -u)" = 0 ] || die "needs root (network namespace, packet capture)"
for c in nginx tcpdump wrk go ip ss taskset; do
	command -v $c >/dev/null || die "missing $c (Debian: apt-get install -y nginx tcpdump wrk iproute2 util-linux)"
done
outfile=$(realpath -m "$outfile")
mkdir -p "$(dirname "$outfile")"

# Staging: tmpfs when it can hold the capture (with room to spare), so that a
# slow disk never stalls tcpdump's writes; the move afterwards is a copy.
if [ -z "$stage" ]; then
	stage=$(dirname "$outfile")
	want=$((size > 0 ? size * 3 / 2 : 4000000000))
	if [ -d /dev/shm ] && [ "$(df -B1 --output=avail /dev/shm | tail -1)" -gt "$want" ]; then
		stage=/dev/shm
	fi
fi
work=$(mktemp -d /tmp/why502-large.XXXXXX)
stagefile=$(mktemp -p "$stage" why502-large.XXXXXX.pcap)
chmod 644 "$stagefile"
ns=why502-large-$$
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
	sleep 0.3
	ip netns del "$ns" 2>/dev/null
	rm -f "$stagefile"
	rm -rf "$work"
}
trap cleanup EXIT

# CPUs: tcpdump alone on the last one, the load on the rest.
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
	cap_cpus=$((ncpu - 1))
	load_cpus=0-$((ncpu - 2))
else
	cap_cpus=0 load_cpus=0
	echo "make-large: WARNING: one CPU: tcpdump shares it with the load; drops are likely" >&2
fi
# Started inline, not through a function, so that $! is the command's own pid
# (ip netns exec, taskset and nice exec it) and signals reach it.
in_ns() { ip netns exec "$ns" "$@"; }

(cd "$here" && go build -o "$work/backend" ./backend) || die "go build failed"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $outfile.error.log error;
events { worker_connections 4096; }
http {
    client_body_temp_path $work/cb; proxy_temp_path $work/px;
    fastcgi_temp_path $work/fc; uwsgi_temp_path $work/uw; scgi_temp_path $work/sc;
    log_format why502 '\$msec \$remote_addr:\$remote_port \$connection \$connection_requests "\$request" \$status \$body_bytes_sent '
                      '"\$upstream_addr" "\$upstream_status" "\$upstream_connect_time" "\$upstream_response_time" \$request_time';
    access_log $outfile.access.log why502;
    upstream backend { server 127.0.0.1:38081; keepalive 32; }
    upstream refused { server 127.0.0.1:38099; }  # nothing listens here
    server {
        listen 127.0.0.1:38080;
        keepalive_requests 100000;
        proxy_http_version 1.1; proxy_set_header Connection "";
        proxy_connect_timeout 1s; proxy_read_timeout 1s; proxy_send_timeout 1s;
        location / { proxy_pass http://backend; }
        location /refused/ { proxy_pass http://refused; }
    }
}
CONF
cat >"$work/mix.lua" <<LUA
-- Mostly successes, with a steady trickle of each failure kind (per thread).
local n = 0
local ok = "/ok?size=$body"
request = function()
  n = n + 1
  local m, path = n % 500, ok
  if m == 0 then path = "/reset"
  elseif m == 125 then path = "/badheader"
  elseif m == 250 then path = "/502"
  elseif m == 375 then path = "/refused/x"
  elseif n % 2000 == 1100 then path = "/slow"
  elseif n % 5000 == 2600 then path = "/hang" end
  return wrk.format("GET", path)
end
LUA

ip netns add "$ns"
ip -n "$ns" link set lo up mtu 1500 gso_max_segs 1
rm -f "$outfile.access.log" "$outfile.error.log" "$outfile.meta"
ip netns exec "$ns" taskset -c "$load_cpus" "$work/backend" -listen 127.0.0.1:38081 -write-timeout 200ms >"$work/backend.log" 2>&1 &
pids+=($!)
in_ns taskset -c "$load_cpus" nginx -c "$work/nginx.conf" -e "$outfile.error.log"
# -Z root: Debian's tcpdump otherwise drops to user tcpdump before opening -w.
ip netns exec "$ns" taskset -c "$cap_cpus" nice -n -10 tcpdump -i lo -s 0 -B "$bufkib" -Z root -w "$stagefile" \
	tcp port 38080 or tcp port 38081 or tcp port 38099 2>"$work/tcpdump.log" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
for _ in $(seq 100); do
	grep -q 'listening on' "$work/tcpdump.log" && in_ns ss -Hltn 'sport = :38080' | grep -q . &&
		in_ns ss -Hltn 'sport = :38081' | grep -q . && break
	sleep 0.1
done
grep -q 'listening on' "$work/tcpdump.log" || die "tcpdump did not start: $(cat "$work/tcpdump.log")"

started=$(date +%s.%N)
ip netns exec "$ns" taskset -c "$load_cpus" timeout $((secs + 30)) wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 2s -s "$work/mix.lua" \
	http://127.0.0.1:38080/ >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
if [ "$size" -gt 0 ]; then
	# Bounded by wrk itself: it stops after SECONDS at the latest.
	while kill -0 "$wrk_pid" 2>/dev/null; do
		if [ "$(stat -c %s "$stagefile")" -ge "$size" ]; then
			kill -INT "$wrk_pid" 2>/dev/null || true # wrk prints its summary on SIGINT
			break
		fi
		sleep 0.2
	done
fi
wait "$wrk_pid" || true
loaded=$(date +%s.%N)
sleep 1.5 # the last /hang gets its 504 within proxy_read_timeout
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
cat "$work/wrk.txt" >&2
cat "$work/tcpdump.log" >&2

dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by \(kernel\|interface\).*/\1/p' "$work/tcpdump.log" | awk '{s += $1} END {print s + 0}')
grep -q 'packets\{0,1\} dropped by kernel' "$work/tcpdump.log" || die "no final stats from tcpdump: $(cat "$work/tcpdump.log")"
mv "$stagefile" "$outfile"
{
	echo "made=$(date -u +%Y-%m-%dT%H:%M:%SZ) by samples/make-large.sh"
	echo "size_target=$size max_seconds=$secs body=$body conns=$conns threads=$threads tcpdump_buffer_kib=$bufkib"
	echo "load_seconds=$(awk -v a="$started" -v b="$loaded" 'BEGIN {printf "%.1f", b - a}')"
	echo "cpus=$ncpu tcpdump_cpu=$cap_cpus load_cpus=$load_cpus staged_in=$stage"
	echo "interface=lo in netns, mtu 1500 gso_max_segs 1"
	echo "nginx_version=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
	echo "tcpdump_version=$(tcpdump --version 2>&1 | head -1 | awk '{print $3}')"
	echo "tcpdump_stats=$(grep -E 'captured|received|dropped' "$work/tcpdump.log" | tr '\n' ';' | sed 's/;$//')"
	echo "tcpdump_dropped=$dropped"
	echo "5xx_in_access_log=$(awk '$8 >= 500' "$outfile.access.log" | wc -l)"
	echo "requests_in_access_log=$(wc -l <"$outfile.access.log")"
	sed 's/^/wrk: /' "$work/wrk.txt"
} >"$outfile.meta"
ls -l "$outfile" "$outfile.access.log" "$outfile.error.log" >&2
if [ "$dropped" -gt 0 ]; then
	cat >&2 <<MSG

make-large: ********************************************************************
make-large: tcpdump DROPPED $dropped PACKETS: this capture is NOT complete, and
make-large: why502 will miss incidents that nginx's access log has. Record again
make-large: with fewer connections (-c), a larger buffer (-B) or a quieter machine.
make-large: ********************************************************************
MSG
	exit 3
fi
echo "make-large: tcpdump dropped 0 packets" >&2
