#!/bin/bash
# make-large.sh: record a large capture for measuring why502's speed.
#
# Usage: sudo samples/make-large.sh [-o FILE] [-d SECONDS] [-b BODY_BYTES] [-c CONNS]
#   FILE        where the pcap goes (default /tmp/why502-large.pcap); nginx's
#               access.log and error.log go beside it (FILE.access.log, FILE.error.log)
#   SECONDS     how long wrk drives load (default 20)
#   BODY_BYTES  response body size of the successful requests (default 200:
#               small keep-alive exchanges, packet-rate bound; 20000 makes it byte-rate bound)
#   CONNS       concurrent client connections (default 32)
#
# Real nginx in front of samples/backend on loopback (MTU 1500, one segment
# per GSO packet, as make-samples.sh does), driven by wrk with a mix of
# successes and failures (/502, /reset, /slow), recorded by tcpdump. Needs
# root, nginx, tcpdump, wrk and Go. The file is not committed: it is made
# on demand by whoever measures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
outfile=/tmp/why502-large.pcap
secs=20
body=200
conns=32
while getopts "o:d:b:c:h" opt; do
	case $opt in
	o) outfile=$OPTARG ;;
	d) secs=$OPTARG ;;
	b) body=$OPTARG ;;
	c) conns=$OPTARG ;;
	*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
die() { echo "make-large: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (packet capture, lo MTU)"
for c in nginx tcpdump wrk go ip; do command -v $c >/dev/null || die "missing $c (Debian: apt-get install -y nginx tcpdump wrk iproute2)"; done

work=$(mktemp -d /tmp/why502-large.XXXXXX)
lo_mtu=$(cat /sys/class/net/lo/mtu)
lo_segs=$(ip -d link show lo | sed -n 's/.*gso_max_segs \([0-9]*\).*/\1/p')
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
	sleep 0.3
	ip link set lo mtu "$lo_mtu" gso_max_segs "${lo_segs:-65535}"
	rm -rf "$work"
}
trap cleanup EXIT

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
    server {
        listen 127.0.0.1:38080;
        keepalive_requests 100000;
        proxy_connect_timeout 1s; proxy_read_timeout 1s;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
cat >"$work/mix.lua" <<'LUA'
-- Mostly successes, with a steady trickle of each failure kind.
local n = 0
request = function()
  n = n + 1
  local path = "/ok?size=" .. BODY
  if n % 500 == 0 then path = "/reset"
  elseif n % 500 == 250 then path = "/502"
  elseif n % 2000 == 1100 then path = "/slow" end
  return wrk.format("GET", path)
end
LUA
sed -i "1i BODY = $body" "$work/mix.lua"

ip link set lo mtu 1500 gso_max_segs 1
rm -f "$outfile.access.log" "$outfile.error.log"
"$work/backend" -listen 127.0.0.1:38081 -write-timeout 200ms >"$work/backend.log" 2>&1 &
pids+=($!)
nginx -c "$work/nginx.conf" -e "$outfile.error.log"
tcpdump -i lo -s 0 -B 65536 -w "$outfile" tcp port 38080 or tcp port 38081 2>"$work/tcpdump.log" &
pids+=($!)
sleep 1
timeout $((secs + 30)) wrk -t 2 -c "$conns" -d "${secs}s" --timeout 2s -s "$work/mix.lua" http://127.0.0.1:38080/ || true
sleep 1.5
kill -INT "${pids[1]}"; wait "${pids[1]}" || true
cat "$work/tcpdump.log" >&2
ls -l "$outfile" >&2
