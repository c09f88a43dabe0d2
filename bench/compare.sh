#!/usr/bin/env bash
# compare.sh (the team's benchmark harness, kept here so the figures in docs/benchmarks.md can be
# reproduced from this repository): benchmark a candidate registry against the reference registry (CNCF Distribution,
# "registry serve") with registry-bench.mjs, and print the figures side by side.
#
# Usage:
#   compare.sh URL_OF_CANDIDATE [CANDIDATE_PID]
#       Starts the reference registry on 127.0.0.1:$REF_PORT (filesystem storage in a fresh
#       temporary directory, deletes enabled, log level error), runs the benchmark against the
#       reference, then the candidate, alternating for $ROUNDS rounds, and prints per figure
#       the median of each side, cand/ref, and each side's min..max. Stops the reference at exit.
#       registry-bench.mjs measures pull and manifest GET with wrk when wrk is on PATH.
#   compare.sh --limits
#       Prints the machine's physical limits: sha256 on one core in Node, loopback TCP between
#       two Node processes, disk write+fsync and read of a 1 GiB file, page-fault cost.
#
# Environment (all optional):
#   REF_BIN        reference registry binary             (default: docker-registry from PATH)
#   REF_PORT       reference registry port               (default: 15399)
#   LIMITS_PORT    loopback port used by --limits        (default: 15398)
#   ROUNDS         alternating rounds                    (default: 2)
#   BENCH_ARGS     extra registry-bench.mjs arguments, e.g. "--quick"
#   BENCH_TMPDIR   parent of the temporary directory     (default: $TMPDIR, else /tmp)
#   KEEP_TMP=1     keep the temporary directory (run logs, JSON results, registry config; not the
#                  reference registry's stored blobs)
#   NODE           node binary                           (default: node from PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NODE=${NODE:-node}
REF_BIN=${REF_BIN:-docker-registry} # not REGISTRY_*: the registry reads those as settings
REF_PORT=${REF_PORT:-15399}
LIMITS_PORT=${LIMITS_PORT:-15398}
ROUNDS=${ROUNDS:-2}
BENCH_ARGS=${BENCH_ARGS:-}
WORK=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/registry-bench.XXXXXX")
REF_PID=

cleanup() {
  if [[ -n $REF_PID ]]; then
    kill "$REF_PID" 2>/dev/null || true
    wait "$REF_PID" 2>/dev/null || true
  fi
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    # The results stay; the reference registry's blobs (~3 GB a run) do not.
    rm -rf "$WORK/reference-storage"
    echo "kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true; }

# ------------------------------------------------------------------ physical limits

limits() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)," \
    "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r), node $("$NODE" --version)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$NODE" --input-type=module - "$WORK" "$LIMITS_PORT" <<'JS'
import { createHash, randomFillSync } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';

const MiB = 1 << 20;
const GiB = 1 << 30;
const REPEATS = 3;
const [dir, port] = process.argv.slice(2);
const mibPerSecond = (bytes, ms) => bytes / MiB / (ms / 1000);

function report(name, values, unit = 'MiB/s', note = '') {
  const sorted = [...values].sort((a, b) => a - b);
  const fmt = (v) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));
  console.log(`${name.padEnd(46)} ${fmt(sorted[sorted.length >> 1]).padStart(7)} ${unit.padEnd(7)}` +
    ` min ${fmt(sorted[0])}, max ${fmt(sorted[sorted.length - 1])} of ${values.length}${note ? `; ${note}` : ''}`);
}

async function repeat(fn) {
  const values = [];
  for (let i = 0; i < REPEATS; i++) values.push(await fn());
  return values;
}

function timeMs(fn) {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

// sha256 on one core, over a buffer that is already resident.
const buffer = randomFillSync(Buffer.allocUnsafe(256 * MiB));
// Also per CPU-second, which other processes competing for the cores do not change.
const cpuMs = () => { const { user, system } = process.cpuUsage(); return (user + system) / 1000; };
const perCpuSecond = [];
report('sha256, one core (256 MiB buffer)', await repeat(() => {
  const cpuStart = cpuMs();
  const rate = mibPerSecond(buffer.length, timeMs(() => createHash('sha256').update(buffer).digest()));
  perCpuSecond.push(mibPerSecond(buffer.length, cpuMs() - cpuStart));
  return rate;
}));
report('sha256, per CPU-second', perCpuSecond);

// Writing memory that is already mapped, versus touching fresh memory (one page fault per 4 KiB).
report('memory write, resident buffer', await repeat(() => mibPerSecond(buffer.length, timeMs(() => buffer.fill(7)))));
const faultRates = await repeat(() => mibPerSecond(256 * MiB, timeMs(() => Buffer.alloc(256 * MiB).fill(7))));
const faultMicros = faultRates.map((rate) => (4096 / MiB / rate) * 1e6);
report('memory write, fresh pages (page faults)', faultRates, 'MiB/s', `${[...faultMicros].sort((a, b) => a - b)[1].toFixed(1)} us per 4 KiB page`);

// Loopback TCP: a child Node process writes 1 GiB, this process drains it.
const SENDER = `
  const net = require('node:net');
  const [port, total] = process.argv.slice(1).map(Number);
  const chunk = Buffer.alloc(4 << 20, 7);
  const server = net.createServer((socket) => {
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!socket.write(chunk)) return socket.once('drain', pump);
      }
      socket.end();
      server.close();
    };
    pump();
  }).listen(port, '127.0.0.1', () => console.log('ready'));`;

async function loopbackOnce() {
  const sender = spawn(process.execPath, ['-e', SENDER, port, String(GiB)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(sender, 'exit');
  await once(sender.stdout, 'data');
  const start = performance.now();
  const socket = net.connect(Number(port), '127.0.0.1');
  let bytes = 0;
  socket.on('data', (chunk) => { bytes += chunk.length; });
  await once(socket, 'end');
  const ms = performance.now() - start;
  socket.destroy();
  await exited;
  if (bytes !== GiB) throw new Error(`loopback: received ${bytes} bytes`);
  return mibPerSecond(bytes, ms);
}
report('loopback TCP, node -> node (1 GiB)', await repeat(loopbackOnce));

// Disk: write 1 GiB + fsync, drop only this file's cached pages, read it cold, then warm.
function readAllMs(path) {
  const fd = openSync(path, 'r');
  const chunk = Buffer.allocUnsafe(8 * MiB);
  const ms = timeMs(() => { while (readSync(fd, chunk, 0, chunk.length, null) > 0); });
  closeSync(fd);
  return ms;
}
const cachedMiB = (path) => {
  const out = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  return out.status === 0 ? Number(out.stdout.trim()) / MiB : NaN;
};
const block = randomFillSync(Buffer.allocUnsafe(64 * MiB));
const disk = { write: [], writeFsync: [], cold: [], warm: [], stillCached: [] };
for (let i = 0; i < REPEATS; i++) {
  const path = `${dir}/disk-test.bin`;
  const fd = openSync(path, 'w');
  const start = performance.now();
  for (let written = 0; written < GiB; written += block.length) writeSync(fd, block);
  const writtenAt = performance.now();
  fsyncSync(fd);
  closeSync(fd);
  disk.write.push(mibPerSecond(GiB, writtenAt - start));
  disk.writeFsync.push(mibPerSecond(GiB, performance.now() - start));
  spawnSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']); // posix_fadvise DONTNEED
  disk.stillCached.push(cachedMiB(path));
  disk.cold.push(mibPerSecond(GiB, readAllMs(path)));
  disk.warm.push(mibPerSecond(GiB, readAllMs(path)));
  unlinkSync(path);
}
// Small synchronous writes, as registries do for links and metadata: 4 KiB write + fsync.
const small = randomFillSync(Buffer.allocUnsafe(4096));
const syncRates = await repeat(() => {
  const fd = openSync(`${dir}/fsync-test.bin`, 'w');
  const ms = timeMs(() => { for (let i = 0; i < 200; i++) { writeSync(fd, small, 0, small.length, 0); fsyncSync(fd); } });
  closeSync(fd);
  return 200 / (ms / 1000);
});
unlinkSync(`${dir}/fsync-test.bin`);
report('disk 4 KiB write + fsync', syncRates, 'ops/s');
report('disk write 1 GiB, page cache only (no fsync)', disk.write);
report('disk write 1 GiB + fsync', disk.writeFsync);
report('disk read 1 GiB, cold (file evicted)', disk.cold, 'MiB/s',
  `${Math.max(...disk.stillCached).toFixed(0)} MiB stayed cached after eviction`);
report('disk read 1 GiB, warm (page cache)', disk.warm);
JS
  echo "load average at end:   $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "Cold reads drop only the test file's pages (posix_fadvise); global caches are left alone."
}

# ------------------------------------------------------------------ reference registry

start_reference() {
  if [[ $(http_code "http://127.0.0.1:$REF_PORT/v2/") != 000 ]]; then
    echo "port $REF_PORT is already in use" >&2
    exit 1
  fi
  mkdir -p "$WORK/reference-storage"
  cat >"$WORK/reference-config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/reference-storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$REF_PORT
EOF
  "$REF_BIN" serve "$WORK/reference-config.yml" >"$WORK/reference.log" 2>&1 &
  REF_PID=$!
  for _ in $(seq 100); do
    [[ $(http_code "http://127.0.0.1:$REF_PORT/v2/") == 200 ]] && return 0
    kill -0 "$REF_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "reference registry did not start:" >&2
  cat "$WORK/reference.log" >&2
  exit 1
}

# run_bench NAME URL PID: one benchmark run; results in $WORK/NAME.json, output in $WORK/NAME.log.
run_bench() {
  local name=$1 url=$2 pid=$3
  local -a pid_args=()
  [[ -n $pid ]] && pid_args=(--pid "$pid")
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of arguments
  if ! "$NODE" "$HERE/registry-bench.mjs" --url "$url" "${pid_args[@]}" --json "$WORK/$name.json" $BENCH_ARGS \
    >"$WORK/$name.log" 2>&1; then
    echo "run $name failed:" >&2
    cat "$WORK/$name.log" >&2
    return 0
  fi
  echo "$name: done ($(grep -c '^FAILED' "$WORK/$name.log" || true) failed phases, load average $(cut -d' ' -f1-3 /proc/loadavg))"
  grep '^FAILED' "$WORK/$name.log" || true
}

print_comparison() {
  "$NODE" --input-type=module - "$WORK" <<'JS'
import { readdirSync, readFileSync } from 'node:fs';

const dir = process.argv[2];
const load = (prefix) => readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.json')).sort()
  .map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
const sides = { reference: load('reference-'), candidate: load('candidate-') };

// figure -> { unit, higherIsBetter, reference: [values], candidate: [values] }
const figures = new Map();
function add(side, name, unit, higherIsBetter, value) {
  if (!Number.isFinite(value)) return;
  if (!figures.has(name)) figures.set(name, { unit, higherIsBetter, reference: [], candidate: [] });
  figures.get(name)[side].push(value);
}
for (const [side, runs] of Object.entries(sides)) {
  for (const run of runs) {
    for (const r of run.results) {
      add(side, r.name, r.unit, r.unit.endsWith('/s'), r.value);
      add(side, `  ${r.name} p50`, 'ms', false, r.p50);
      add(side, `  ${r.name} p99`, 'ms', false, r.p99);
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (v) => (!Number.isFinite(v) ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
const range = (xs) => (xs.length ? `${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}` : '-');

const rows = [['figure', 'unit', 'reference', 'candidate', 'cand/ref', 'better', 'reference min..max', 'candidate min..max']];
for (const [name, f] of figures) {
  const ref = median(f.reference);
  const cand = median(f.candidate);
  rows.push([name, f.unit, fmt(ref), fmt(cand), Number.isFinite(cand / ref) ? (cand / ref).toFixed(2) : '-',
    f.higherIsBetter ? 'higher' : 'lower', range(f.reference), range(f.candidate)]);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
const clients = new Set(Object.values(sides).flat().map((run) => run.meta.wrk ?? 'registry-bench.mjs itself'));
console.log(`medians of ${sides.reference.length} reference and ${sides.candidate.length} candidate runs; ` +
  `pull and manifest GET measured by ${[...clients].join(' and ')}`);

// CPU used by neither the benchmark client nor the server: noise from other processes.
const otherCores = (run) => median(run.results
  .filter((r) => Number.isFinite(r.machineCores) && Number.isFinite(r.serverCores))
  .map((r) => r.machineCores - r.clientCores - r.serverCores));
for (const [side, runs] of Object.entries(sides)) {
  console.log(`${side} runs: other processes used ${runs.map((run) => fmt(otherCores(run))).join(', ')} cores ` +
    `(median over phases); load average before: ${runs.map((run) => run.meta.loadAverageBefore.split(' ')[0]).join(', ')}`);
  runs.forEach((run, i) => {
    for (const [phase, message] of Object.entries(run.errors)) console.log(`${side} run ${i + 1}: ${phase} FAILED: ${message}`);
  });
}
JS
}

compare() {
  local candidate_url=${1%/} candidate_pid=${2:-}
  if [[ $(http_code "$candidate_url/v2/") == 000 ]]; then
    echo "candidate registry at $candidate_url does not answer" >&2
    exit 1
  fi
  start_reference
  echo "reference: $("$REF_BIN" --version 2>&1 | head -1) on 127.0.0.1:$REF_PORT (pid $REF_PID)"
  echo "candidate: $candidate_url${candidate_pid:+ (pid $candidate_pid)}"
  for round in $(seq "$ROUNDS"); do
    run_bench "reference-$round" "http://127.0.0.1:$REF_PORT" "$REF_PID"
    run_bench "candidate-$round" "$candidate_url" "$candidate_pid"
  done
  print_comparison
}

case ${1:-} in
  --limits) limits ;;
  "" | -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) compare "$@" ;;
esac
