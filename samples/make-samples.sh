#!/bin/bash
# make-samples.sh: regenerate why502's sample captures.
#
# Usage: sudo samples/make-samples.sh [-o OUTDIR] [SAMPLE...]
#   SAMPLE: loopback any-snaplen200 pcapng-gz ipv6 split nginx-retry
#           keepalive-race haproxy caddy tls-front crash response-timeout
#           (default: all of these)
#           load (not in the default list; make-load.sh runs it)
#   OUTDIR: where the sample folders go (default: the directory of this script)
#
# Needs root (captures, loopback MTU, network namespaces, TAP devices),
# nginx, tcpdump, dumpcap (pcapng-gz only), haproxy (haproxy), caddy
# (caddy), openssl (tls-front), /dev/net/tun (keepalive-race), iproute2
# and the Go toolchain (to build backend/, drive/ and tapdelay/). It
# installs nothing; on Debian:
#   apt-get install -y nginx tcpdump tshark haproxy caddy openssl
#
# Each sample folder gets the capture(s), the proxy's logs, the driver's
# output (drive.txt), a machine-readable `meta` and a README.md.
# Traffic goes only to loopback or to namespaces this script creates, and
# every wait is bounded.
#
# Environment: PORT_BASE (default 18080: proxy PORT_BASE, backend +1,
# refused +19), RESTART_DELAY (default 1.5, seconds the backend stays down
# after /exit), KEEP_TMP=1 to keep the work directory; keepalive-race:
# RACE_DELAY (20ms one way), RACE_IDLE (backend idle timeout, 1s),
# RACE_FROM/RACE_TO/RACE_N (pauses swept, 930ms..1010ms, 40 requests);
# crash: CRASH_C (8 clients), CRASH_EVERY (200ms per client), CRASH_FOR
# (2.4s of load), CRASH_AT (0.5, seconds into the load when the backend gets
# SIGKILL; it is restarted RESTART_DELAY later); response-timeout:
# KILL_AFTER (2s, the backend's worker timeout); load: LOAD_N (10000),
# LOAD_C (32), DRIVE_LIMIT (seconds, default 60).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here
while getopts "o:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	h) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
all="loopback any-snaplen200 pcapng-gz ipv6 split nginx-retry keepalive-race haproxy caddy tls-front crash response-timeout"
samples=${*:-$all}

port_proxy=${PORT_BASE:-18080}
port_backend=$((port_proxy + 1))
port_refused=$((port_proxy + 19))
restart_delay=${RESTART_DELAY:-1.5}
write_timeout=200ms
filter="tcp port $port_proxy or tcp port $port_backend or tcp port $port_refused"

die() { echo "make-samples: $*" >&2; exit 1; }

# --- checks -----------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (packet capture, lo MTU, network namespaces); run with sudo"
missing=()
for s in $samples; do
	case $s in
	loopback | any-snaplen200 | pcapng-gz | ipv6 | split | nginx-retry | keepalive-race | tls-front | crash | response-timeout | load) ;;
	haproxy) command -v haproxy >/dev/null || missing+=("haproxy") ;;
	caddy) command -v caddy >/dev/null || missing+=("caddy") ;;
	*) die "unknown sample '$s' (known: $all load)" ;;
	esac
	case $s in
	tls-front) command -v openssl >/dev/null || missing+=("openssl") ;;
	keepalive-race) [ -c /dev/net/tun ] || missing+=("/dev/net/tun (TAP devices)") ;;
	esac
done
for c in nginx tcpdump ip go gzip ss; do
	command -v $c >/dev/null || missing+=("$c")
done
case " $samples " in *" pcapng-gz "*) command -v dumpcap >/dev/null || missing+=("dumpcap (package tshark)") ;; esac
[ ${#missing[@]} = 0 ] || die "missing: ${missing[*]} (Debian: apt-get install -y nginx tcpdump tshark iproute2 golang)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/why502-samples.XXXXXX)
lo_mtu=$(cat /sys/class/net/lo/mtu)
lo_segs=$(ip -d link show lo | sed -n 's/.*gso_max_segs \([0-9]*\).*/\1/p')
ns_prefix="w5$$"
pids=()

# Loopback with a 1500-byte MTU and one segment per GSO packet, so the
# capture shows wire-sized segments instead of 64 KB TSO super-packets.
lo_realistic() { ip link set lo mtu 1500 gso_max_segs 1; }
lo_restore() { ip link set lo mtu "$lo_mtu" gso_max_segs "${lo_segs:-65535}"; }

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for f in "$work"/*/backend.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	sleep 0.2
	for n in cli gw be; do ip netns del "$ns_prefix$n" 2>/dev/null; done
	lo_restore
	[ "${KEEP_TMP:-}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "make-samples: building backend and drive" >&2
(cd "$here" && go build -o "$work/backend" ./backend && go build -o "$work/drive" ./drive &&
	go build -o "$work/tapdelay" ./tapdelay) ||
	die "go build failed"

# wait_for CMD... : run CMD every 0.1 s until it succeeds, at most 10 s.
wait_for() {
	local i
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
listening() { # [NETNS] PORT
	local ns=$1 port=$2
	if [ -n "$ns" ]; then
		ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q .
	else
		ss -Hltn "sport = :$port" | grep -q .
	fi
}
inns() { # NETNS CMD... ; NETNS empty: run here
	local ns=$1
	shift
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}
# bg NETNS CMD... : start CMD in the background; $! is CMD's own pid (ip netns
# exec execs it), so signals reach it and `wait` waits for it.
bg() {
	local ns=$1
	shift
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@" & else "$@" & fi
}

# start_capture DIR NETNS NAME CMD... : start a capture, wait until it listens.
start_capture() {
	local dir=$1 ns=$2 name=$3
	shift 3
	bg "$ns" "$@" 2>"$dir/$name.err"
	pids+=($!)
	echo $! >"$dir/$name.cap.pid"
	wait_for grep -qE 'listening on|Capturing on' "$dir/$name.err" || die "$name: capture did not start: $(cat "$dir/$name.err")"
}
stop_captures() {
	local dir=$1 f
	# libpcap hands packets over in blocks (TPACKET_V3, up to 1 s late); a
	# capture stopped at once loses the tail of the run. Immediate mode and
	# this pause keep it.
	sleep 1.5
	for f in "$dir"/*.cap.pid; do kill -INT "$(cat "$f")" 2>/dev/null || true; done
	for f in "$dir"/*.cap.pid; do wait "$(cat "$f")" 2>/dev/null || true; done
}

# start_backend DIR NETNS LISTEN: run the backend under a bounded supervisor
# that restarts it, after RESTART_DELAY, only when it exited on /exit (code 3).
start_backend() {
	local dir=$1 ns=$2 listen=$3
	bg "$ns" bash -c '
		for i in 1 2 3; do
			"$0" -listen "$1" -write-timeout "$2" -pidfile "$3" $6 2>>"$4"
			rc=$?
			[ $rc = 3 ] || exit $rc
			sleep "$5"
		done' "$work/backend" "$listen" "$write_timeout" "$dir/backend.pid" "$dir/backend.err" "$restart_delay" "${backend_flags:-}"
	pids+=($!)
	echo $! >"$dir/backend.sup.pid"
}
stop_backend() {
	local dir=$1
	kill "$(cat "$dir/backend.sup.pid")" 2>/dev/null || true
	[ -f "$dir/backend.pid" ] && kill "$(cat "$dir/backend.pid")" 2>/dev/null || true
	wait "$(cat "$dir/backend.sup.pid")" 2>/dev/null || true
}

# start_nginx DIR NETNS LISTEN UPSTREAM REFUSED DEAD [TEMPLATE [SED-EXPR]]
# TEMPLATE defaults to nginx.conf.in; SED-EXPR fills further placeholders.
start_nginx() {
	local dir=$1 ns=$2 tmpl=${7:-nginx.conf.in} more=${8:-}
	mkdir -p "$dir/tmp"
	sed -e "s#@TMP@#$dir/tmp#g; s#@OUT@#$dir/out#g; s#@LISTEN@#$3#; s#@UPSTREAM@#$4#; s#@REFUSED@#$5#; s#@DEAD@#$6#" \
		-e "${more:-s#^##}" "$here/$tmpl" >"$dir/nginx.conf"
	bg "$ns" nginx -c "$dir/nginx.conf" -e "$dir/out/error.log"
	pids+=($!)
	echo $! >"$dir/nginx.run.pid"
}
stop_nginx() {
	local dir=$1
	kill -QUIT "$(cat "$dir/nginx.run.pid")" 2>/dev/null || true # graceful: finish, close keep-alives
	wait "$(cat "$dir/nginx.run.pid")" 2>/dev/null || true
}

# start_haproxy DIR NETNS LISTEN UPSTREAM REFUSED: HAProxy in the foreground,
# its log (stdout) into out/haproxy.log.
start_haproxy() {
	local dir=$1 ns=$2
	mkdir -p "$dir/tmp"
	sed -e "s#@TMP@#$dir/tmp#g; s#@LISTEN@#$3#; s#@UPSTREAM@#$4#; s#@REFUSED@#$5#" \
		"$here/haproxy.cfg.in" >"$dir/haproxy.cfg"
	bg "$ns" haproxy -f "$dir/haproxy.cfg" -db >"$dir/out/haproxy.log" 2>"$dir/haproxy.err"
	pids+=($!)
	echo $! >"$dir/proxy.run.pid"
}
# start_caddy DIR NETNS LISTEN UPSTREAM REFUSED: Caddy with its state
# directories in DIR (it writes nothing outside them).
start_caddy() {
	local dir=$1 ns=$2 bind=${3%:*}
	mkdir -p "$dir/tmp"
	sed -e "s#@OUT@#$dir/out#g; s#@LISTEN@#$3#; s#@BIND@#${bind//[\[\]]/}#; s#@UPSTREAM@#$4#; s#@REFUSED@#$5#" \
		"$here/Caddyfile.in" >"$dir/Caddyfile"
	bg "$ns" env HOME="$dir/tmp" XDG_DATA_HOME="$dir/tmp" XDG_CONFIG_HOME="$dir/tmp" \
		caddy run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/caddy.out" 2>&1
	pids+=($!)
	echo $! >"$dir/proxy.run.pid"
}
stop_proxy() { # DIR: HAProxy or Caddy; SIGUSR1 / SIGTERM finish gracefully
	local dir=$1 p
	p=$(cat "$dir/proxy.run.pid")
	kill -USR1 "$p" 2>/dev/null || true # HAProxy: soft stop; Caddy ignores it
	sleep 0.3
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# count_kinds ERRLOG: "kind count" lines for the README.
count_kinds() {
	local log=$1
	printf '| %s | %s |\n' \
		"connect() failed (111: Connection refused)" "$(grep -c '(111: Connection refused) while connecting to upstream' "$log" || true)" \
		"upstream prematurely closed connection" "$(grep -c 'upstream prematurely closed connection' "$log" || true)" \
		"recv() failed (104: Connection reset by peer)" "$(grep -c '(104: Connection reset by peer)' "$log" || true)" \
		"upstream timed out ... while connecting to upstream" "$(grep -c 'upstream timed out (110: Connection timed out) while connecting' "$log" || true)" \
		"upstream timed out ... while reading response header" "$(grep -c 'upstream timed out (110: Connection timed out) while reading' "$log" || true)" \
		"upstream sent no valid HTTP/1.0 header" "$(grep -c 'upstream sent no valid HTTP/1.0 header' "$log" || true)" \
		"upstream sent invalid header" "$(grep -c 'upstream sent invalid header' "$log" || true)" \
		"no live upstreams" "$(grep -c 'no live upstreams while connecting to upstream' "$log" || true)"
}

# count_haproxy LOG: termination states and statuses, for the README.
count_haproxy() {
	echo "| %ts | %ST | lines |"
	echo "|---|---|---|"
	grep '^[0-9]' "$1" | awk '{print $10, $8}' | sort | uniq -c | awk '{printf "| `%s` | %s | %d |\n", $2, $3, $1}'
}
# count_caddy LOG: http.log.error messages (addresses and ports blanked), for the README.
count_caddy() {
	echo "| http.log.error msg | status | lines |"
	echo "|---|---|---|"
	grep '"logger":"http.log.error' "$1" | sed -n 's/.*"msg":"\(.*\)","request".*"status":\([0-9]*\).*/\1\t\2/p' |
		sed -E 's/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+/ADDR/g; s/\\"/"/g' | sort | uniq -c |
		awk '{n=$1; l=$0; sub(/^ *[0-9]+ /, "", l); split(l, a, "\t"); printf "| `%s` | %s | %d |\n", a[1], a[2], n}'
}

# check_drops DIR NAME: a capture that lost packets is no ground truth; say so.
check_drops() {
	local f
	for f in "$1"/*.err; do
		if grep -qE '^[1-9][0-9]* packets dropped by (kernel|interface)' "$f" 2>/dev/null; then
			echo "make-samples: WARNING: $2: $(basename "$f" .err) capture dropped packets ($(grep dropped "$f" | tr '\n' ' ')); regenerate this sample" >&2
		fi
	done
}

# finish DIR NAME [PROXY]: move results into OUTDIR/NAME with meta and
# README.md. PROXY: nginx (default), haproxy or caddy.
finish() {
	local dir=$1 name=$2 proxy=${3:-nginx} dst="$out/$2"
	rm -rf "$dst"
	mkdir -p "$dst"
	cp "$dir"/out/* "$dst"/
	cp "$dir/drive.txt" "$dst/drive.txt"
	check_drops "$dir" "$name"
	case $proxy in
	haproxy | caddy) finish_other "$dir" "$name" "$proxy"; return ;;
	esac
	{
		echo "nginx_version=$(nginx -v 2>&1 | sed 's#.*/##')"
		echo "tcpdump_version=$(tcpdump --version 2>&1 | head -1 | awk '{print $3}')"
		for f in "$dir"/cap.err "$dir"/client.err "$dir"/upstream.err "$dir"/bside.err; do
			[ -f "$f" ] && echo "capture_stats_$(basename "$f" .err)=$(grep -iE 'captured|dropped|received' "$f" | tr '\n' ';' | sed 's/;$//')"
		done
		echo "proxy_connect_timeout=1s"
		echo "proxy_read_timeout=${read_timeout:-1s}"
		echo "backend_write_timeout=$write_timeout"
		echo "backend_slow=write timeout + 100ms (/slow answers after the server already gave up)"
		echo "backend_restart_delay=${restart_delay}s"
		echo "segments=mtu 1500 gso_max_segs 1 on the captured interfaces (wire-sized segments, no TSO super-packets)"
	} >>"$dst/meta"
	{
		echo "# sample \`$name\`"
		echo
		echo "Made by \`samples/make-samples.sh $name\` on $(date -u +%Y-%m-%d) (nginx $(nginx -v 2>&1 | sed 's#.*/##')); see ../README.md."
		echo
		echo '```'
		cat "$dst/meta"
		echo '```'
		echo
		echo "nginx error.log, upstream failures by kind:"
		echo
		echo "| error.log words | lines |"
		echo "|---|---|"
		count_kinds "$dst/error.log"
		echo
		echo "Client-side statuses (access.log):"
		echo
		echo '```'
		awk -F'"' '{split($3, a, " "); print a[1]}' "$dst/access.log" | sort | uniq -c
		echo '```'
	} >"$dst/README.md"
	echo "make-samples: $name -> $dst ($(du -sh "$dst" | cut -f1))" >&2
}

# finish_other DIR NAME PROXY: meta and README.md for HAProxy and Caddy.
finish_other() {
	local dir=$1 name=$2 proxy=$3 dst="$out/$2" version
	if [ "$proxy" = haproxy ]; then
		version=$(haproxy -v | head -1 | awk '{print $3}')
	else
		version=$(caddy version | awk '{print $1}')
	fi
	{
		echo "${proxy}_version=$version"
		echo "tcpdump_version=$(tcpdump --version 2>&1 | head -1 | awk '{print $3}')"
		for f in "$dir"/cap.err; do
			[ -f "$f" ] && echo "capture_stats_$(basename "$f" .err)=$(grep -iE 'captured|dropped|received' "$f" | tr '\n' ';' | sed 's/;$//')"
		done
		if [ "$proxy" = haproxy ]; then
			echo "proxy_connect_timeout=1s"
			echo "proxy_read_timeout=1s"
			echo "haproxy_retries=2"
		else
			echo "proxy_connect_timeout=1s"
			echo "proxy_read_timeout=1s"
		fi
		echo "backend_write_timeout=$write_timeout"
		echo "backend_slow=write timeout + 100ms (/slow answers after the server already gave up)"
		echo "backend_restart_delay=${restart_delay}s"
		echo "segments=mtu 1500 gso_max_segs 1 on the captured interfaces (wire-sized segments, no TSO super-packets)"
	} >>"$dst/meta"
	{
		echo "# sample \`$name\`"
		echo
		echo "Made by \`samples/make-samples.sh $name\` on $(date -u +%Y-%m-%d) ($proxy $version); see ../README.md."
		echo
		echo '```'
		cat "$dst/meta"
		echo '```'
		echo
		if [ "$proxy" = haproxy ]; then
			echo "haproxy.log, requests by termination state and status:"
			echo
			count_haproxy "$dst/haproxy.log"
		else
			echo "caddy.log, errors by message (addresses blanked) and status:"
			echo
			count_caddy "$dst/caddy.log"
			echo
			echo "Client-side statuses (access.log):"
			echo
			echo '```'
			sed -n 's/.*"status":\([0-9]*\).*/\1/p' "$dst/access.log" | sort | uniq -c
			echo '```'
		fi
	} >"$dst/README.md"
	echo "make-samples: $name -> $dst ($(du -sh "$dst" | cut -f1))" >&2
}

# run_drive DIR NETNS BASEURL [drive flags]; DRIVE_LIMIT bounds it (seconds).
run_drive() {
	local dir=$1 ns=$2 base=$3
	shift 3
	inns "$ns" timeout "${DRIVE_LIMIT:-60}" "$work/drive" -base "$base" "$@" >"$dir/drive.txt" 2>&1 ||
		echo "make-samples: drive reported failures, see drive.txt" >&2
}

# sample_lo NAME FAMILY KIND [PROXY]: proxy, backend and client on loopback.
# KIND: pcap (tcpdump -i lo), any200 (tcpdump -i any -s 200), pcapng (dumpcap -i lo).
# PROXY: nginx (default), nginx-retry (nginx-retry.conf.in, -seq retry),
# haproxy, caddy, load (nginx under -seq load; make-load.sh).
sample_lo() {
	local name=$1 fam=$2 kind=$3 proxy=${4:-nginx} dir="$work/$1" host hp
	mkdir -p "$dir/out"
	if [ "$fam" = 6 ]; then host=::1 hp="[::1]"; else host=127.0.0.1 hp=127.0.0.1; fi
	lo_realistic
	local files cmd iface snap=262144 linktype=EN10MB buf=()
	# Capture buffer (KiB): with the default 2 MiB, immediate-mode tcpdump
	# has dropped packets on a busy machine; load sends 10k requests in seconds.
	buf=(-B 16384)
	[ "$proxy" = load ] && buf=(-B 65536)
	case $kind in
	pcap)
		files=capture.pcap iface=lo
		cmd=(tcpdump -i lo -s "$snap" "${buf[@]}" --immediate-mode -U -w "$dir/out/capture.pcap" "$filter")
		;;
	any200)
		files=capture.pcap iface=any snap=200 linktype=LINUX_SLL2
		cmd=(tcpdump -i any -s 200 "${buf[@]}" --immediate-mode -U -w "$dir/out/capture.pcap" "$filter")
		;;
	pcapng)
		files=capture.pcapng.gz iface=lo
		cmd=(dumpcap -q -i lo -s "$snap" -B 16 -f "$filter" -w "$dir/out/capture.pcapng")
		;;
	esac
	start_capture "$dir" "" cap "${cmd[@]}"
	start_backend "$dir" "" "$hp:$port_backend"
	wait_for listening "" "$port_backend" || die "$name: backend did not start: $(cat "$dir/backend.err")"
	local stale="127.0.0.2:$port_backend" refused2="127.0.0.2:$port_refused" drive=()
	case $proxy in
	nginx | load)
		start_nginx "$dir" "" "$hp:$port_proxy" "$hp:$port_backend" "$hp:$port_refused" "$hp:$port_refused"
		[ "$proxy" = load ] && drive=(-seq load -n "${LOAD_N:-10000}" -c "${LOAD_C:-32}")
		;;
	nginx-retry)
		# The group's dead server is another loopback address with nothing
		# listening on the backend's port: a stale address left in the list.
		start_nginx "$dir" "" "$hp:$port_proxy" "$hp:$port_backend" "$hp:$port_refused" "$stale" \
			nginx-retry.conf.in "s#@REFUSED2@#$refused2#"
		drive=(-seq retry)
		;;
	haproxy) start_haproxy "$dir" "" "$hp:$port_proxy" "$hp:$port_backend" "$hp:$port_refused" ;;
	caddy) start_caddy "$dir" "" "$hp:$port_proxy" "$hp:$port_backend" "$hp:$port_refused" ;;
	esac
	wait_for listening "" "$port_proxy" ||
		die "$name: $proxy did not start: $(cat "$dir"/out/error.log "$dir"/haproxy.err "$dir"/caddy.out 2>/dev/null)"
	run_drive "$dir" "" "http://$hp:$port_proxy" "${drive[@]}"
	case $proxy in
	haproxy | caddy) stop_proxy "$dir" ;;
	*) stop_nginx "$dir" ;;
	esac
	stop_backend "$dir"
	stop_captures "$dir"
	lo_restore
	[ "$kind" = pcapng ] && gzip -9n "$dir/out/capture.pcapng" && chmod 644 "$dir/out/capture.pcapng.gz"
	{
		echo "sample=$name"
		case $proxy in
		haproxy) echo "proxy_software=haproxy"; echo "logs=haproxy.log" ;;
		caddy) echo "proxy_software=caddy"; echo "logs=access.log caddy.log" ;;
		nginx-retry | load) echo "proxy_software=nginx"; echo "logs=access.log error.log" ;;
		esac
		echo "files=$files"
		echo "interfaces=$iface"
		echo "linktype=$linktype"
		echo "snaplen=$snap"
		echo "filter=$filter"
		echo "capture_command=${cmd[*]//$dir\/out\//}$([ "$kind" = pcapng ] && echo '; gzip -9n capture.pcapng')"
		echo "client=$host"
		echo "proxy=$hp:$port_proxy"
		echo "upstream=$hp:$port_backend"
		if [ "$proxy" = nginx-retry ]; then
			echo "upstream_group=$stale (max_fails=0, nothing listens) $hp:$port_backend"
			echo "refused=$hp:$port_refused $refused2 (group allrefused, location /allrefused/)"
		else
			echo "refused=$hp:$port_refused"
		fi
		echo "dead="
		[ "$proxy" = load ] && echo "load=$(tail -1 "$dir/drive.txt")"
	} >"$dir/out/meta"
	case $proxy in
	haproxy | caddy) finish "$dir" "$name" "$proxy" ;;
	*) finish "$dir" "$name" ;;
	esac
}

# sample_split: client ns -> gateway ns (nginx) -> backend ns, captured on
# both of the gateway's interfaces. The backend ns also holds a "dead" host
# address whose replies are routed to a blackhole (ip rule), so nginx's
# SYNs to it are never answered: connect timeout.
#
# sample_split tls-front tls: the same with nginx terminating TLS for the
# client (a throwaway self-signed certificate made for the run, not kept):
# client.pcap is encrypted, upstream.pcap plain HTTP.
sample_split() {
	local name=${1:-split} tls=${2:-} dir="$work/${1:-split}"
	local cli=${ns_prefix}cli gw=${ns_prefix}gw be=${ns_prefix}be
	local vc=${ns_prefix}c vb=${ns_prefix}b
	mkdir -p "$dir/out"
	ip netns add "$cli"
	ip netns add "$gw"
	ip netns add "$be"
	ip link add "$vc" netns "$gw" type veth peer name eth0 netns "$cli"
	ip link add "$vb" netns "$gw" type veth peer name eth0 netns "$be"
	ip -n "$cli" addr add 10.250.1.2/24 dev eth0
	ip -n "$gw" addr add 10.250.1.1/24 dev "$vc"
	ip -n "$gw" addr add 10.250.2.1/24 dev "$vb"
	ip -n "$be" addr add 10.250.2.2/24 dev eth0
	ip -n "$be" addr add 10.250.2.3/24 dev eth0
	ip -n "$be" rule add from 10.250.2.3 lookup 250 pref 100
	ip -n "$be" route add blackhole default table 250
	for n in "$cli" "$gw" "$be"; do ip -n "$n" link set lo up; done
	# wire-sized segments in the capture, as on lo (see lo_realistic)
	ip -n "$cli" link set eth0 gso_max_segs 1
	ip -n "$be" link set eth0 gso_max_segs 1
	ip -n "$gw" link set "$vc" gso_max_segs 1
	ip -n "$gw" link set "$vb" gso_max_segs 1
	ip -n "$cli" link set eth0 up
	ip -n "$be" link set eth0 up
	ip -n "$gw" link set "$vc" up
	ip -n "$gw" link set "$vb" up

	local f="tcp"
	local buf=(-B 16384) # see sample_lo
	start_capture "$dir" "$gw" client tcpdump -i "$vc" -s 262144 "${buf[@]}" --immediate-mode -U -w "$dir/out/client.pcap" "$f"
	start_capture "$dir" "$gw" upstream tcpdump -i "$vb" -s 262144 "${buf[@]}" --immediate-mode -U -w "$dir/out/upstream.pcap" "$f"
	start_backend "$dir" "$be" "10.250.2.2:$port_backend"
	wait_for listening "$be" "$port_backend" || die "split: backend did not start: $(cat "$dir/backend.err")"
	local scheme=http more="" drive=(-dead)
	if [ -n "$tls" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
			-subj /CN=why502.test -addext "subjectAltName=IP:10.250.1.1" \
			-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>"$dir/openssl.err" || die "openssl: $(cat "$dir/openssl.err")"
		scheme=https drive+=(-insecure)
		more="s#^\( *listen [^;]*\);#\1 ssl; ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;#"
	fi
	start_nginx "$dir" "$gw" "10.250.1.1:$port_proxy" "10.250.2.2:$port_backend" "10.250.2.2:$port_refused" "10.250.2.3:$port_backend" \
		nginx.conf.in "$more"
	wait_for listening "$gw" "$port_proxy" || die "$name: nginx did not start: $(cat "$dir/out/error.log")"
	run_drive "$dir" "$cli" "$scheme://10.250.1.1:$port_proxy" "${drive[@]}"
	stop_nginx "$dir"
	stop_backend "$dir"
	stop_captures "$dir"
	for n in "$cli" "$gw" "$be"; do ip netns del "$n"; done
	{
		echo "sample=$name"
		if [ -n "$tls" ]; then
			echo "proxy_software=nginx"
			echo "logs=access.log error.log"
			echo "front=tls (nginx terminates TLS 1.2/1.3 with a self-signed P-256 certificate made for the run and discarded; client.pcap cannot be decrypted)"
		fi
		echo "files=client.pcap upstream.pcap"
		echo "interfaces=gateway veth to client (client.pcap), gateway veth to backends (upstream.pcap)"
		echo "linktype=EN10MB"
		echo "snaplen=262144"
		echo "filter=$f"
		echo "capture_command=tcpdump -i VETH -s 262144 -B 16384 --immediate-mode -U -w FILE tcp (in the gateway namespace, one per veth)"
		echo "client=10.250.1.2"
		echo "proxy=10.250.1.1:$port_proxy"
		echo "proxy_upstream_side=10.250.2.1"
		echo "upstream=10.250.2.2:$port_backend"
		echo "refused=10.250.2.2:$port_refused"
		echo "dead=10.250.2.3:$port_backend"
	} >"$dir/out/meta"
	finish "$dir" "$name"
}

# sample_race: a keep-alive race. Client ns -> gateway ns (nginx) -> TAP
# forwarder (tapdelay, RACE_DELAY one way) -> backend ns. The backend's idle
# timeout (RACE_IDLE) is far shorter than nginx's upstream keepalive_timeout
# (60s), and the driver pauses between requests for durations swept across
# the idle timeout: when a request leaves nginx within one one-way delay of
# the backend's idle close, the backend's FIN and nginx's request cross on
# the wire. Captured in the gateway namespace on the client veth
# (client.pcap) and the TAP device (upstream.pcap), and in the backend
# namespace on its TAP device (backend-side.pcap: the same upstream
# connections as the backend saw them, RACE_DELAY later or earlier; not in
# meta's files, so that no connection is counted twice).
sample_race() {
	local name=keepalive-race dir="$work/keepalive-race"
	local cli=${ns_prefix}cli gw=${ns_prefix}gw be=${ns_prefix}be
	local vc=${ns_prefix}c ta=${ns_prefix}ta tb=${ns_prefix}tb
	local delay=${RACE_DELAY:-20ms} idle=${RACE_IDLE:-1s}
	local from=${RACE_FROM:-930ms} to=${RACE_TO:-1010ms} count=${RACE_N:-40}
	mkdir -p "$dir/out"
	ip netns add "$cli"
	ip netns add "$gw"
	ip netns add "$be"
	ip link add "$vc" netns "$gw" type veth peer name eth0 netns "$cli"
	bg "" "$work/tapdelay" -a "$ta" -b "$tb" -delay "$delay" -pidfile "$dir/tapdelay.pid" 2>"$dir/tapdelay.err"
	pids+=($!)
	echo $! >"$dir/tapdelay.run.pid"
	wait_for ip link show dev "$tb" || die "$name: tapdelay did not create its devices: $(cat "$dir/tapdelay.err")"
	ip link set "$ta" netns "$gw"
	ip link set "$tb" netns "$be"
	ip -n "$cli" addr add 10.250.1.2/24 dev eth0
	ip -n "$gw" addr add 10.250.1.1/24 dev "$vc"
	ip -n "$gw" addr add 10.250.3.1/24 dev "$ta"
	ip -n "$be" addr add 10.250.3.2/24 dev "$tb"
	for n in "$cli" "$gw" "$be"; do ip -n "$n" link set lo up; done
	ip -n "$cli" link set eth0 gso_max_segs 1
	ip -n "$gw" link set "$vc" gso_max_segs 1
	ip -n "$cli" link set eth0 up
	ip -n "$gw" link set "$vc" up
	ip -n "$gw" link set "$ta" up
	ip -n "$be" link set "$tb" up

	local f="tcp"
	start_capture "$dir" "$gw" client tcpdump -i "$vc" -s 262144 -B 16384 --immediate-mode -U -w "$dir/out/client.pcap" "$f"
	start_capture "$dir" "$gw" upstream tcpdump -i "$ta" -s 262144 -B 16384 --immediate-mode -U -w "$dir/out/upstream.pcap" "$f"
	start_capture "$dir" "$be" bside tcpdump -i "$tb" -s 262144 -B 16384 --immediate-mode -U -w "$dir/out/backend-side.pcap" "$f"
	backend_flags="-idle-timeout $idle"
	start_backend "$dir" "$be" "10.250.3.2:$port_backend"
	backend_flags=
	wait_for listening "$be" "$port_backend" || die "$name: backend did not start: $(cat "$dir/backend.err")"
	start_nginx "$dir" "$gw" "10.250.1.1:$port_proxy" "10.250.3.2:$port_backend" "10.250.3.2:$port_refused" "10.250.3.2:$port_refused"
	wait_for listening "$gw" "$port_proxy" || die "$name: nginx did not start: $(cat "$dir/out/error.log")"
	DRIVE_LIMIT=120 run_drive "$dir" "$cli" "http://10.250.1.1:$port_proxy" -seq race \
		-race-n "$count" -race-from "$from" -race-to "$to"
	stop_nginx "$dir"
	stop_backend "$dir"
	stop_captures "$dir"
	kill "$(cat "$dir/tapdelay.run.pid")" 2>/dev/null || true
	wait "$(cat "$dir/tapdelay.run.pid")" 2>/dev/null || true
	for n in "$cli" "$gw" "$be"; do ip netns del "$n"; done
	{
		echo "sample=$name"
		echo "proxy_software=nginx"
		echo "logs=access.log error.log"
		echo "files=client.pcap upstream.pcap"
		echo "other_files=backend-side.pcap (the upstream connections captured at the backend's end of the delayed link; do not add it to files, its connections are the ones in upstream.pcap)"
		echo "interfaces=gateway veth to client (client.pcap), gateway TAP device to the delay forwarder (upstream.pcap), backend TAP device (backend-side.pcap)"
		echo "linktype=EN10MB"
		echo "snaplen=262144"
		echo "filter=$f"
		echo "capture_command=tcpdump -i DEV -s 262144 -B 16384 --immediate-mode -U -w FILE tcp (one per device, in its namespace)"
		echo "client=10.250.1.2"
		echo "proxy=10.250.1.1:$port_proxy"
		echo "proxy_upstream_side=10.250.3.1"
		echo "upstream=10.250.3.2:$port_backend"
		echo "refused="
		echo "dead="
		echo "link_delay=$delay one way between nginx and the backend (tapdelay: $(tail -1 "$dir/tapdelay.err" | sed 's/^.*tapdelay: //'))"
		echo "backend_idle_timeout=$idle"
		echo "nginx_upstream_keepalive_timeout=60s (default)"
		echo "drive_pauses=$count requests, pauses from $from to $to, two in three POST"
	} >"$dir/out/meta"
	finish "$dir" "$name"
}

# sample_staged NAME: nginx.conf.in on loopback, as `loopback`, with one
# failure staged and its truth recorded in meta:
#   crash: CRASH_C clients at a fixed rate for CRASH_FOR; CRASH_AT seconds
#     in, the backend gets SIGKILL (every connection it had open closes at
#     once, requests unanswered) and is started again RESTART_DELAY later.
#     meta: backend_killed_at (date right before kill) and
#     backend_restarted_at (date right after the new process wrote its
#     pid file, which it does once listening), both Unix seconds.
#   response-timeout: the backend runs with -kill-after KILL_AFTER and no
#     WriteTimeout; nginx's proxy_read_timeout is 5s, so the backend's
#     close, not nginx's timeout, ends the slow requests.
sample_staged() {
	local name=$1 dir="$work/$1" hp=127.0.0.1 i
	local read_timeout=1s write_timeout=$write_timeout kill_after=${KILL_AFTER:-2s}
	local killed_at="" restarted_at="" drv
	local cmd=(tcpdump -i lo -s 262144 -B 16384 --immediate-mode -U -w "$dir/out/capture.pcap" "$filter")
	mkdir -p "$dir/out"
	lo_realistic
	start_capture "$dir" "" cap "${cmd[@]}"
	if [ "$name" = response-timeout ]; then
		read_timeout=5s write_timeout=0s
		backend_flags="-kill-after $kill_after"
	fi
	start_backend "$dir" "" "$hp:$port_backend"
	backend_flags=
	wait_for listening "" "$port_backend" || die "$name: backend did not start: $(cat "$dir/backend.err")"
	start_nginx "$dir" "" "$hp:$port_proxy" "$hp:$port_backend" "$hp:$port_refused" "$hp:$port_refused" \
		nginx.conf.in "s#proxy_read_timeout 1s;#proxy_read_timeout $read_timeout;#"
	wait_for listening "" "$port_proxy" || die "$name: nginx did not start: $(cat "$dir/out/error.log")"
	case $name in
	crash)
		run_drive "$dir" "" "http://$hp:$port_proxy" -seq crash -c "${CRASH_C:-8}" \
			-for "${CRASH_FOR:-2.4s}" -every "${CRASH_EVERY:-200ms}" -work 100ms &
		drv=$!
		sleep "${CRASH_AT:-0.5}"
		killed_at=$(date +%s.%N)
		kill -KILL "$(cat "$dir/backend.pid")"
		# The supervisor restarts only after /exit (code 3); it ends here.
		wait "$(cat "$dir/backend.sup.pid")" 2>/dev/null || true
		rm -f "$dir/backend.pid"
		sleep "$restart_delay"
		start_backend "$dir" "" "$hp:$port_backend"
		for i in $(seq 2000); do
			[ -s "$dir/backend.pid" ] && break
			sleep 0.002
		done
		restarted_at=$(date +%s.%N)
		[ -s "$dir/backend.pid" ] || die "$name: backend did not restart: $(cat "$dir/backend.err")"
		wait "$drv" || true
		;;
	response-timeout)
		run_drive "$dir" "" "http://$hp:$port_proxy" -seq timeout
		;;
	esac
	stop_nginx "$dir"
	stop_backend "$dir"
	stop_captures "$dir"
	lo_restore
	{
		echo "sample=$name"
		echo "proxy_software=nginx"
		echo "logs=access.log error.log"
		echo "files=capture.pcap"
		echo "interfaces=lo"
		echo "linktype=EN10MB"
		echo "snaplen=262144"
		echo "filter=$filter"
		echo "capture_command=${cmd[*]//$dir\/out\//}"
		echo "client=$hp"
		echo "proxy=$hp:$port_proxy"
		echo "upstream=$hp:$port_backend"
		echo "refused=$hp:$port_refused"
		echo "dead="
		if [ "$name" = crash ]; then
			echo "backend_killed_at=$killed_at (SIGKILL; date +%s.%N right before kill)"
			echo "backend_restarted_at=$restarted_at (date +%s.%N right after the new process wrote its pid file, once listening)"
			echo "drive_load=${CRASH_C:-8} clients, one POST /work?ms=100 (no body) each per ${CRASH_EVERY:-200ms}, for ${CRASH_FOR:-2.4s}; kill ${CRASH_AT:-0.5}s in"
		else
			echo "backend_kill_after=$kill_after (backend -kill-after: closes the connection this long after the request arrived, without a response; WriteTimeout off)"
		fi
	} >"$dir/out/meta"
	finish "$dir" "$name"
}

for s in $samples; do
	echo "make-samples: $s" >&2
	case $s in
	loopback) sample_lo loopback 4 pcap ;;
	any-snaplen200) sample_lo any-snaplen200 4 any200 ;;
	pcapng-gz) sample_lo pcapng-gz 4 pcapng ;;
	ipv6) sample_lo ipv6 6 pcap ;;
	split) sample_split ;;
	nginx-retry) sample_lo nginx-retry 4 pcap nginx-retry ;;
	haproxy) sample_lo haproxy 4 pcap haproxy ;;
	caddy) sample_lo caddy 4 pcap caddy ;;
	tls-front) sample_split tls-front tls ;;
	keepalive-race) sample_race ;;
	crash | response-timeout) sample_staged "$s" ;;
	load) sample_lo load 4 pcap load ;;
	esac
done
