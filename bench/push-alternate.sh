#!/usr/bin/env bash
# push-alternate.sh: pushes to CNCF Distribution (docker-registry) and to Wharf in alternating rounds
# of `bench/push-bench.mjs` (8 fresh 64 MiB blobs each), and prints each round's MiB/s with the
# server's user and kernel CPU. Both servers run on fresh data directories under one temporary
# directory, on 127.0.0.1, and are stopped at exit.
#
# Usage: bash bench/push-alternate.sh [mono|chunked] [ROUNDS]       (default: chunked 4)
# Environment: WHARF_PORT (15081), REF_PORT (15399), WARM=1 to write and delete a 1 GiB file before
# every round, so each starts with the same recently freed memory (see docs/benchmarks.md).
# PULL_LOAD=N: background pull load, the same for both servers: during each push round, wrk pulls
# a PULL_MIB (default 1) MiB blob from the server being pushed to over N connections (started a
# second before the push, stopped after it); its requests/s are printed beside the push.
# BUFFERED=1: a second Wharf (port WHARF_BUFFERED_PORT, 15082) with storage.filesystem.directWrites
# off, pushed in its turn after the first: writes through the page cache against writes past it.
# Run `npm run build` first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODE=${1:-chunked}
ROUNDS=${2:-4}
WHARF_PORT=${WHARF_PORT:-15081}
REF_PORT=${REF_PORT:-15399}
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_work push-alternate

printf 'dataDirectory: %s/wharf\nhttp:\n  address: 127.0.0.1\n  port: %s\nlog:\n  level: warn\n' "$WORK" "$WHARF_PORT" > "$WORK/wharf.yml"
./bin/wharf serve --config "$WORK/wharf.yml" > "$WORK/wharf.log" 2>&1 &
WHARF_PID=$!
PIDS+=("$WHARF_PID")
BUFFERED_PORT=
if [[ ${BUFFERED:-0} == 1 ]]; then
  BUFFERED_PORT=${WHARF_BUFFERED_PORT:-15082}
  printf 'dataDirectory: %s/wharf-buffered\nhttp:\n  address: 127.0.0.1\n  port: %s\nlog:\n  level: warn\nstorage:\n  filesystem:\n    directWrites: false\n' "$WORK" "$BUFFERED_PORT" > "$WORK/wharf-buffered.yml"
  ./bin/wharf serve --config "$WORK/wharf-buffered.yml" > "$WORK/wharf-buffered.log" 2>&1 &
  BUFFERED_PID=$!
  PIDS+=("$BUFFERED_PID")
fi
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s/ref}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' "$WORK" "$REF_PORT" > "$WORK/ref.yml"
docker-registry serve "$WORK/ref.yml" > "$WORK/ref.log" 2>&1 &
REF_PID=$!
PIDS+=("$REF_PID")
for port in "$WHARF_PORT" "$REF_PORT" $BUFFERED_PORT; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done
done

PULL_LOAD=${PULL_LOAD:-0}
PULL_MIB=${PULL_MIB:-1}
PULL_PATH=
if (( PULL_LOAD > 0 )); then
  head -c "$((PULL_MIB * 1048576))" /dev/urandom > "$WORK/pull.bin"
  for port in "$WHARF_PORT" "$REF_PORT" $BUFFERED_PORT; do
    digest=$(upload_blob "http://127.0.0.1:$port" "$WORK/pull.bin" bench/pull)
    # a blob missing on one side would make its pull load a stream of cheap 404s
    curl -sfI "http://127.0.0.1:$port/v2/bench/pull/blobs/$digest" > /dev/null
  done
  PULL_PATH="/v2/bench/pull/blobs/$digest"
fi

cpu_ms() { awk '{ print $14 * 10, $15 * 10 }' "/proc/$1/stat"; } # utime, stime in clock ticks of 10 ms

round() {
  local name=$1 pid=$2 port=$3 user0 sys0 user1 sys1 result
  if [[ ${WARM:-0} == 1 ]]; then
    dd if=/dev/zero of="$WORK/warm.bin" bs=64k count=16384 status=none
    rm "$WORK/warm.bin"
  fi
  local wrk_pid= pulls=
  if [[ -n $PULL_PATH ]]; then
    wrk -t1 -c"$PULL_LOAD" -d3600s "http://127.0.0.1:$port$PULL_PATH" > "$WORK/wrk.out" 2>&1 &
    wrk_pid=$!
    PIDS+=("$wrk_pid")
    sleep 1
  fi
  read -r user0 sys0 < <(cpu_ms "$pid")
  result=$(node bench/push-bench.mjs "http://127.0.0.1:$port" "$MODE")
  read -r user1 sys1 < <(cpu_ms "$pid")
  if [[ -n $wrk_pid ]]; then
    kill -INT "$wrk_pid"
    wait "$wrk_pid" || true
    pulls=$(awk '/Requests\/sec/ { printf ", pulls %d/s", $2 }' "$WORK/wrk.out")
  fi
  printf '%-15s %-22s server user %5d ms, kernel %5d ms%s\n' "$name" "$result" $((user1 - user0)) $((sys1 - sys0)) "$pulls"
}

for _ in $(seq "$ROUNDS"); do
  round distribution "$REF_PID" "$REF_PORT"
  round wharf "$WHARF_PID" "$WHARF_PORT"
  if [[ -n $BUFFERED_PORT ]]; then round wharf-buffered "$BUFFERED_PID" "$BUFFERED_PORT"; fi
done
