#!/usr/bin/env bash
# Ceph RGW (a real S3 endpoint) for the tests, on 127.0.0.1, all state in DIR.
#
#   scripts/start-ceph.sh [start] DIR   -> prints WHARF_TEST_S3_* KEY=VALUE lines on stdout when ready
#                                          (also written to DIR/env); progress and timing go to stderr
#   scripts/start-ceph.sh stop DIR      -> stops exactly the daemons started for DIR
#   scripts/start-ceph.sh rgw-stop DIR  -> stops only the S3 gateway (radosgw); the objects stay in the OSD
#   scripts/start-ceph.sh rgw-start DIR -> starts that gateway again on the same port (fault tests)
#
# Wraps scripts/ceph-rgw.sh (vendored copy of shared/s3/ceph-rgw.sh). Unlike that script's fixed
# defaults (15200/15280), this picks a free block of ports so several test runs (and a developer's
# own Ceph on the defaults) can coexist: monitor BASE, OSD messenger BASE+10..BASE+59, RGW BASE+80.
# Set CEPH_PORT_BASE to force a block. A flock serialises port picking between concurrent runs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CMD=start
case "${1:-}" in start|stop|rgw-stop|rgw-start) CMD=$1; shift ;; esac
DIR=${1:?usage: start-ceph.sh [start|stop|rgw-stop|rgw-start] DIR}
log() { echo "[start-ceph] $*" >&2; }

RGW_SCRIPT=$HERE/ceph-rgw.sh

if [ "$CMD" = stop ]; then
  [ -d "$DIR" ] || exit 0
  # Test data is throwaway (memstore), so by default SIGKILL the daemons: a graceful stop takes
  # ~6 s (radosgw lingers). CEPH_GRACEFUL_STOP=1 uses ceph-rgw.sh's TERM-then-wait stop instead.
  if [ "${CEPH_GRACEFUL_STOP:-}" = 1 ]; then exec bash "$RGW_SCRIPT" stop "$DIR"; fi
  pids=()
  for f in "$DIR"/pids/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); rm -f "$f"
    kill -KILL "$pid" 2>/dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  exit 0
fi

if [ "$CMD" = rgw-stop ]; then
  f=$DIR/pids/rgw.pid
  [ -f "$f" ] || exit 0
  pid=$(cat "$f")
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$f"
  exit 0
fi
if [ "$CMD" = rgw-start ]; then
  DIR=$(cd "$DIR" && pwd)
  [ -f "$DIR/ceph.conf" ] && [ -f "$DIR/env" ] || { log "no Ceph cluster in $DIR"; exit 1; }
  if [ -f "$DIR/pids/rgw.pid" ] && kill -0 "$(cat "$DIR/pids/rgw.pid")" 2>/dev/null; then exit 0; fi
  # the same command line as ceph-rgw.sh's start
  setsid radosgw -c "$DIR/ceph.conf" -n client.rgw -f </dev/null >>"$DIR/log/rgw.stdout" 2>&1 &
  echo $! > "$DIR/pids/rgw.pid"
  endpoint=$(sed -n 's/^WHARF_TEST_S3_ENDPOINT=//p' "$DIR/env")
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null --max-time 2 "$endpoint/" && exit 0
    kill -0 "$(cat "$DIR/pids/rgw.pid")" 2>/dev/null || { log "radosgw exited; see $DIR/log"; exit 1; }
    sleep 0.2
  done
  log "radosgw did not answer at $endpoint within 60 s"; exit 1
fi

for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
  command -v "$b" >/dev/null || { log "missing $b: run scripts/install-deps.sh"; exit 1; }
done

listening_ports() { ss -Hltn 2>/dev/null | awk '{n=split($4,a,":"); print a[n]}' | sort -un; }
block_free() { # base
  local p used; used=$(listening_ports)
  for p in $used; do
    if [ "$p" -ge "$1" ] && [ "$p" -lt $(( $1 + 100 )) ]; then return 1; fi
  done
}

mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
LOCK=${TMPDIR:-/tmp}/wharf-test-ceph-ports.lock
exec 8>"$LOCK"
flock -w 300 8 || { log "could not get $LOCK"; exit 1; }

if [ -n "${CEPH_PORT_BASE:-}" ]; then
  BASE=$CEPH_PORT_BASE
  block_free "$BASE" || { log "ports $BASE..$((BASE+99)) are in use"; exit 1; }
else
  BASE=""
  for b in $(seq 15300 100 19900); do block_free "$b" && { BASE=$b; break; }; done
  [ -n "$BASE" ] || { log "no free block of 100 ports in 15300..19999"; exit 1; }
fi

t0=$(date +%s%N)
out=$(MON_PORT=$BASE MSGR_PORT_MIN=$((BASE+10)) MSGR_PORT_MAX=$((BASE+59)) RGW_PORT=$((BASE+80)) \
      bash "$RGW_SCRIPT" start "$DIR" 8>&-) || { log "Ceph RGW failed to start; logs in $DIR/log"; tail -n 20 "$DIR"/log/*.log >&2 2>/dev/null || true; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
flock -u 8

val() { printf '%s\n' "$out" | sed -n "s/^$1=//p" | head -n1; }
{
  echo "WHARF_TEST_S3_ENDPOINT=$(val ENDPOINT)"
  echo "WHARF_TEST_S3_ACCESS_KEY=$(val ACCESS_KEY)"
  echo "WHARF_TEST_S3_SECRET_KEY=$(val SECRET_KEY)"
  echo "WHARF_TEST_S3_BUCKET=$(val BUCKET)"
  echo "WHARF_TEST_S3_REGION=$(val REGION)"
} > "$DIR/env"
grep -q '^WHARF_TEST_S3_ENDPOINT=http' "$DIR/env" || { log "ceph-rgw.sh printed no ENDPOINT"; bash "$RGW_SCRIPT" stop "$DIR"; exit 1; }
log "Ceph RGW ready at $(val ENDPOINT) in ${ms} ms (ports $BASE..$((BASE+80)), state in $DIR)"
cat "$DIR/env"
