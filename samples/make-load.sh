#!/bin/bash
# make-load.sh: a load sample for why502 analyze (not committed: regenerate).
#
# Usage: sudo samples/make-load.sh [-o OUTDIR] [-n REQUESTS] [-c CONCURRENCY]
#   OUTDIR       where the `load` folder goes (default /tmp/why502-load)
#   REQUESTS     requests to send (default 10000)
#   CONCURRENCY  requests in flight (default 32)
#
# nginx (nginx.conf.in) in front of samples/backend on loopback, exactly as
# the loopback sample, driven by `drive -seq load`: REQUESTS requests, a
# fixed mix of successes and every failure kind (about 9% end in 5xx:
# /reset, /502, /refused/x, POST /slow, /badheader, a few /hang), recorded by
# tcpdump (-B 64 MiB). The folder has what a committed sample has: capture,
# access.log, error.log, drive.txt (counts by path and status), meta,
# README.md. It is made by make-samples.sh (sample `load`, not in its
# default list), so the machinery, the checks and the cleanup are the same.
# Takes 10-20 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=/tmp/why502-load
n=10000
c=32
while getopts "o:n:c:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	n) n=$OPTARG ;;
	c) c=$OPTARG ;;
	*) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
LOAD_N=$n LOAD_C=$c DRIVE_LIMIT=${DRIVE_LIMIT:-600} exec bash "$here/make-samples.sh" -o "$out" load
