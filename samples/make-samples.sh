#!/bin/bash
# make-samples.sh: regenerate why502's sample captures.
#
# Usage: sudo samples/make-samples.sh [-o OUTDIR] [SAMPLE...]
#   SAMPLE: loopback any-snaplen200 pcapng-gz ipv6 split   (default: all)
#   OUTDIR: where the sample folders go (default: the directory of this script)
#
# Needs root (captures, loopback MTU, network namespaces), nginx, tcpdump,
# dumpcap (pcapng-gz only), iproute2 and the Go toolchain (to build
# backend/ and drive/). It installs nothing; on Debian:
#   apt-get install -y nginx tcpdump tshark
#
# Each sample folder gets the capture(s), nginx's access.log and error.log,
# the driver's output (drive.txt), a machine-readable `meta` and a README.md.
# Traffic goes only to loopback or to namespaces this script creates, and
# every wait is bounded.
#
# Environment: PORT_BASE (default 18080: proxy PORT_BASE, backend +1,
# refused +19), RESTART_DELAY (default 1.5, seconds the backend stays down
# after /exit), KEEP_TMP=1 to keep the work directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here
while getopts "o:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	h) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
all="loopback any-snaplen200 pcapng-gz ipv6 split"
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
	loopback | any-snaplen200 | pcapng-gz | ipv6 | split) ;;
	*) die "unknown sample '$s' (known: $all)" ;;
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
(cd "$here" && go build -o "$work/backend" ./backend && go build -o "$work/drive" ./drive) ||
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
			"$0" -listen "$1" -write-timeout "$2" -pidfile "$3" 2>>"$4"
			rc=$?
			[ $rc = 3 ] || exit $rc
			sleep "$5"
		done' "$work/backend" "$listen" "$write_timeout" "$dir/backend.pid" "$dir/backend.err" "$restart_delay"
	pids+=($!)
	echo $! >"$dir/backend.sup.pid"
}
stop_backend() {
	local dir=$1
	kill "$(cat "$dir/backend.sup.pid")" 2>/dev/null || true
	[ -f "$dir/backend.pid" ] && kill "$(cat "$dir/backend.pid")" 2>/dev/null || true
	wait "$(cat "$dir/backend.sup.pid")" 2>/dev/null || true
}

# start_nginx DIR NETNS LISTEN UPSTREAM REFUSED DEAD
start_nginx() {
	local dir=$1 ns=$2
	mkdir -p "$dir/tmp"
	sed -e "s#@TMP@#$dir/tmp#g; s#@OUT@#$dir/out#g; s#@LISTEN@#$3#; s#@UPSTREAM@#$4#; s#@REFUSED@#$5#; s#@DEAD@#$6#" \
		"$here/nginx.conf.in" >"$dir/nginx.conf"
	bg "$ns" nginx -c "$dir/nginx.conf" -e "$dir/out/error.log"
	pids+=($!)
	echo $! >"$dir/nginx.run.pid"
}
stop_nginx() {
	local dir=$1
	kill -QUIT "$(cat "$dir/nginx.run.pid")" 2>/dev/null || true # graceful: finish, close keep-alives
	wait "$(cat "$dir/nginx.run.pid")" 2>/dev/null || true
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
		"upstream sent invalid header" "$(grep -c 'upstream sent invalid header' "$log" || true)"
}

# finish DIR NAME: move results into OUTDIR/NAME with meta and README.md.
finish() {
	local dir=$1 name=$2 dst="$out/$2"
	rm -rf "$dst"
	mkdir -p "$dst"
	cp "$dir"/out/* "$dst"/
	cp "$dir/drive.txt" "$dst/drive.txt"
	{
		echo "nginx_version=$(nginx -v 2>&1 | sed 's#.*/##')"
		echo "tcpdump_version=$(tcpdump --version 2>&1 | head -1 | awk '{print $3}')"
		for f in "$dir"/cap.err "$dir"/client.err "$dir"/upstream.err; do
			[ -f "$f" ] && echo "capture_stats_$(basename "$f" .err)=$(grep -iE 'captured|dropped|received' "$f" | tr '\n' ';' | sed 's/;$//')"
		done
		echo "proxy_connect_timeout=1s"
		echo "proxy_read_timeout=1s"
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

# run_drive DIR NETNS BASEURL [drive flags]
run_drive() {
	local dir=$1 ns=$2 base=$3
	shift 3
	inns "$ns" timeout 60 "$work/drive" -base "$base" "$@" >"$dir/drive.txt" 2>&1 ||
		echo "make-samples: drive reported failures, see drive.txt" >&2
}

# sample_lo NAME FAMILY KIND: proxy, backend and client on loopback.
# KIND: pcap (tcpdump -i lo), any200 (tcpdump -i any -s 200), pcapng (dumpcap -i lo).
sample_lo() {
	local name=$1 fam=$2 kind=$3 dir="$work/$1" host hp
	mkdir -p "$dir/out"
	if [ "$fam" = 6 ]; then host=::1 hp="[::1]"; else host=127.0.0.1 hp=127.0.0.1; fi
	lo_realistic
	local files cmd iface snap=262144 linktype=EN10MB
	case $kind in
	pcap)
		files=capture.pcap iface=lo
		cmd=(tcpdump -i lo -s "$snap" --immediate-mode -U -w "$dir/out/capture.pcap" "$filter")
		;;
	any200)
		files=capture.pcap iface=any snap=200 linktype=LINUX_SLL2
		cmd=(tcpdump -i any -s 200 --immediate-mode -U -w "$dir/out/capture.pcap" "$filter")
		;;
	pcapng)
		files=capture.pcapng.gz iface=lo
		cmd=(dumpcap -q -i lo -s "$snap" -f "$filter" -w "$dir/out/capture.pcapng")
		;;
	esac
	start_capture "$dir" "" cap "${cmd[@]}"
	start_backend "$dir" "" "$hp:$port_backend"
	wait_for listening "" "$port_backend" || die "$name: backend did not start: $(cat "$dir/backend.err")"
	start_nginx "$dir" "" "$hp:$port_proxy" "$hp:$port_backend" "$hp:$port_refused" "$hp:$port_refused"
	wait_for listening "" "$port_proxy" || die "$name: nginx did not start: $(cat "$dir/out/error.log")"
	run_drive "$dir" "" "http://$hp:$port_proxy"
	stop_nginx "$dir"
	stop_backend "$dir"
	stop_captures "$dir"
	lo_restore
	[ "$kind" = pcapng ] && gzip -9n "$dir/out/capture.pcapng" && chmod 644 "$dir/out/capture.pcapng.gz"
	{
		echo "sample=$name"
		echo "files=$files"
		echo "interfaces=$iface"
		echo "linktype=$linktype"
		echo "snaplen=$snap"
		echo "filter=$filter"
		echo "capture_command=${cmd[*]//$dir\/out\//}$([ "$kind" = pcapng ] && echo '; gzip -9n capture.pcapng')"
		echo "client=$host"
		echo "proxy=$hp:$port_proxy"
		echo "upstream=$hp:$port_backend"
		echo "refused=$hp:$port_refused"
		echo "dead="
	} >"$dir/out/meta"
	finish "$dir" "$name"
}

# sample_split: client ns -> gateway ns (nginx) -> backend ns, captured on
# both of the gateway's interfaces. The backend ns also holds a "dead" host
# address whose replies are routed to a blackhole (ip rule), so nginx's
# SYNs to it are never answered: connect timeout.
sample_split() {
	local name=split dir="$work/split"
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
	start_capture "$dir" "$gw" client tcpdump -i "$vc" -s 262144 --immediate-mode -U -w "$dir/out/client.pcap" "$f"
	start_capture "$dir" "$gw" upstream tcpdump -i "$vb" -s 262144 --immediate-mode -U -w "$dir/out/upstream.pcap" "$f"
	start_backend "$dir" "$be" "10.250.2.2:$port_backend"
	wait_for listening "$be" "$port_backend" || die "split: backend did not start: $(cat "$dir/backend.err")"
	start_nginx "$dir" "$gw" "10.250.1.1:$port_proxy" "10.250.2.2:$port_backend" "10.250.2.2:$port_refused" "10.250.2.3:$port_backend"
	wait_for listening "$gw" "$port_proxy" || die "split: nginx did not start: $(cat "$dir/out/error.log")"
	run_drive "$dir" "$cli" "http://10.250.1.1:$port_proxy" -dead
	stop_nginx "$dir"
	stop_backend "$dir"
	stop_captures "$dir"
	for n in "$cli" "$gw" "$be"; do ip netns del "$n"; done
	{
		echo "sample=split"
		echo "files=client.pcap upstream.pcap"
		echo "interfaces=gateway veth to client (client.pcap), gateway veth to backends (upstream.pcap)"
		echo "linktype=EN10MB"
		echo "snaplen=262144"
		echo "filter=$f"
		echo "capture_command=tcpdump -i VETH -s 262144 --immediate-mode -U -w FILE tcp (in the gateway namespace, one per veth)"
		echo "client=10.250.1.2"
		echo "proxy=10.250.1.1:$port_proxy"
		echo "proxy_upstream_side=10.250.2.1"
		echo "upstream=10.250.2.2:$port_backend"
		echo "refused=10.250.2.2:$port_refused"
		echo "dead=10.250.2.3:$port_backend"
	} >"$dir/out/meta"
	finish "$dir" split
}

for s in $samples; do
	echo "make-samples: $s" >&2
	case $s in
	loopback) sample_lo loopback 4 pcap ;;
	any-snaplen200) sample_lo any-snaplen200 4 any200 ;;
	pcapng-gz) sample_lo pcapng-gz 4 pcapng ;;
	ipv6) sample_lo ipv6 6 pcap ;;
	split) sample_split ;;
	esac
done
