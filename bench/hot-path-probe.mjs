#!/usr/bin/env node
// hot-path-probe.mjs: what one request or one pushed MiB costs the server, in measures that other
// load on the machine does not change much: server CPU time, fsync/fdatasync and write(2) calls,
// page faults (perf's software counters and syscall tracepoints, no hardware counters needed), GC
// runs, bytes allocated on the JS heap and bytes promoted to the old generation (--trace-gc-nvp;
// promoted garbage grows the heap until a full collection), bytes the metadata files grew, and
// the event-loop delay and synchronous database time Wharf reports in /metrics. Wall-clock rates
// are printed too, but only for orientation.
//
// It starts its own server (`node <bin/wharf's flags> bin/wharf serve`) on a free
// port with a fresh data directory, so run `npm run build` first.
//
// Usage: node bench/hot-path-probe.mjs [--phases manifest-get,manifest-put,push-mono,push-chunked]
//          [--requests 20000] [--concurrency 64] [--manifests 1000] [--push-mib 512] [--json FILE]
//          [--config 'extra yaml, \\n for newlines'] [--node-args='--cpu-prof --cpu-prof-dir=/tmp/prof']
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWharf } from './wharf-process.mjs';

const { values: args } = parseArgs({
  options: {
    phases: { type: 'string', default: 'manifest-get,manifest-put,push-mono,push-chunked' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    manifests: { type: 'string', default: '1000' },
    'push-mib': { type: 'string', default: '512' },
    json: { type: 'string' },
    config: { type: 'string', default: '' },
    'node-args': { type: 'string', default: '' },
  },
});
const MiB = 1 << 20;
const requests = Number(args.requests);
const concurrency = Number(args.concurrency);
const manifestCount = Number(args.manifests);
const pushMiB = Number(args['push-mib']);
const work = mkdtempSync(join(tmpdir(), 'wharf-probe-'));
const CLK_TCK = 100;

// ---------------------------------------------------------------- the server
const wharf = await startWharf({ work, extraYaml: args.config.replace(/\\n/g, '\n'), nodeArgs: ['--trace-gc-nvp', ...args['node-args'].split(' ').filter(Boolean)] });
const server = wharf.process;
const url = wharf.url;
const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(concurrency, 16) });

function request(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, agent, headers: body ? { ...headers, 'content-length': body.length } : headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- measures
const procStat = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK };
};
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;
const dbBytes = () => ['wharf.db', 'wharf.db-wal'].reduce((n, f) => n + (statSync(join(work, 'data', f), { throwIfNoEntry: false })?.size ?? 0), 0);
const gcSince = (offset) => {
  const runs = { scavenges: 0, markCompacts: 0, pauseMs: 0, allocatedMiB: 0, promotedMiB: 0 };
  for (const line of wharf.stdout().slice(offset).split('\n')) {
    const gc = /\bgc=(\w+)/.exec(line)?.[1];
    if (!gc) continue;
    if (gc === 's') runs.scavenges += 1;
    else runs.markCompacts += 1;
    runs.pauseMs += Number(/\bpause=([\d.]+)/.exec(line)?.[1] ?? 0);
    runs.allocatedMiB += Number(/\ballocated=(\d+)/.exec(line)?.[1] ?? 0) / MiB;
    // What young-generation collections moved to the old generation, which only a full one frees.
    if (gc === 's') runs.promotedMiB += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0) / MiB;
  }
  return runs;
};
const metricValue = (text, name) => {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : NaN;
};
const metricsSnapshot = async () => {
  const text = (await request('GET', '/metrics')).body.toString();
  const sum = (prefix) => text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  return {
    loopP99: metricValue(text, 'wharf_nodejs_eventloop_lag_p99_seconds'),
    loopMax: metricValue(text, 'wharf_nodejs_eventloop_lag_max_seconds'),
    delayBuckets: Object.fromEntries(text.split('\n').filter((l) => l.startsWith('wharf_event_loop_delay_seconds_bucket')).map((l) => [/le="([^"]+)"/.exec(l)[1], Number(l.split(' ').pop())])),
    dbSyncSeconds: sum('wharf_database_sync_seconds_total'),
    dbSyncByKind: Object.fromEntries(['read', 'write', 'commit'].map((k) => [k, sum(`wharf_database_sync_seconds_total{kind="${k}"}`)])),
    dbStatements: sum('wharf_database_statements_total'),
  };
};
const perfAvailable = spawnSync('perf', ['--version']).status === 0;
const PERF_EVENTS = ['task-clock', 'page-faults', 'context-switches', 'syscalls:sys_enter_fsync', 'syscalls:sys_enter_fdatasync', 'syscalls:sys_enter_write', 'syscalls:sys_enter_pwrite64', 'syscalls:sys_enter_writev', 'syscalls:sys_enter_pwritev'];
function startPerf() {
  if (!perfAvailable) return undefined;
  const child = spawn('perf', ['stat', '-x', ',', '-e', PERF_EVENTS.join(','), '-p', String(server.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d) => (out += d));
  return {
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => child.on('exit', r));
      const counts = {};
      for (const line of out.split('\n')) {
        const [value, , event] = line.split(',');
        if (event && PERF_EVENTS.includes(event)) counts[event.replace('syscalls:sys_enter_', '')] = Number(value);
      }
      return counts;
    },
  };
}

async function measure(name, units, unitName, fn) {
  await new Promise((r) => setTimeout(r, 300));
  const before = { ...procStat(), gc: wharf.stdout().length, db: dbBytes(), metrics: await metricsSnapshot() };
  const perf = startPerf();
  await new Promise((r) => setTimeout(r, 200));
  const start = performance.now();
  await fn();
  const seconds = (performance.now() - start) / 1000;
  const counts = (await perf?.stop()) ?? {};
  const after = { ...procStat(), db: dbBytes(), metrics: await metricsSnapshot() };
  const gc = gcSince(before.gc);
  const per = (v) => Math.round((v / units) * 1000) / 1000;
  const buckets = Object.entries(after.metrics.delayBuckets).map(([le, n]) => `${le}:${n - (before.metrics.delayBuckets[le] ?? 0)}`).join(' ');
  const result = {
    phase: name,
    units,
    unit: unitName,
    wallSeconds: Math.round(seconds * 100) / 100,
    ratePerSecond: Math.round(units / seconds),
    serverCpuMsPerUnit: per(after.cpuMs - before.cpuMs),
    fsyncsPerUnit: per((counts.fsync ?? 0) + (counts.fdatasync ?? 0)),
    writeCallsPerUnit: per((counts.write ?? 0) + (counts.pwrite64 ?? 0) + (counts.writev ?? 0) + (counts.pwritev ?? 0)),
    pageFaultsPerUnit: per(counts['page-faults'] ?? NaN),
    scavenges: gc.scavenges,
    markCompacts: gc.markCompacts,
    gcPauseMsPerUnit: per(gc.pauseMs),
    jsAllocatedKiBPerUnit: per(gc.allocatedMiB * 1024),
    promotedBytesPerUnit: per(gc.promotedMiB * MiB),
    dbGrowthBytesPerUnit: per(after.db - before.db),
    dbSyncMsPerUnit: per((after.metrics.dbSyncSeconds - before.metrics.dbSyncSeconds) * 1000),
    dbStatementsPerUnit: per(after.metrics.dbStatements - before.metrics.dbStatements),
    dbSyncMsPerUnitByKind: Object.fromEntries(Object.keys(after.metrics.dbSyncByKind).map((k) => [k, per((after.metrics.dbSyncByKind[k] - before.metrics.dbSyncByKind[k]) * 1000)])),
    loopDelayBuckets: buckets,
    loopLagP99Ms: Math.round(after.metrics.loopP99 * 1e4) / 10,
    loopLagMaxMs: Math.round(after.metrics.loopMax * 1e4) / 10,
    rssMiB: Math.round(rssMiB()),
  };
  console.log(JSON.stringify(result));
  return result;
}

// ---------------------------------------------------------------- data
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
async function pushBlob(repo, bytes) {
  const digest = sha(bytes);
  const post = await request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  if (post.status !== 201) throw new Error(`monolithic POST answered ${post.status}`);
  return { digest, size: bytes.length };
}
const repo = 'probe/app';
const config = await pushBlob(repo, Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
const layer = await pushBlob(repo, randomFillSync(Buffer.alloc(4096)));
const manifestBody = (i) =>
  Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }], annotations: { n: String(i) } }));

async function runConcurrent(total, workers, task) {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < total) await task(next++);
  }));
}

const results = [];
let putRound = 0;
const tags = [];
for (let i = 0; i < manifestCount; i++) {
  const res = await request('PUT', `/v2/${repo}/manifests/t${i}`, { headers: { 'content-type': OCI_MANIFEST }, body: manifestBody(i) });
  if (res.status !== 201) throw new Error(`PUT manifest answered ${res.status}`);
  tags.push(`t${i}`);
}
const pushBlobs = (mib) => {
  const pool = randomFillSync(Buffer.allocUnsafe(64 * MiB + 64 * 4096));
  const count = Math.max(1, Math.round(mib / 64));
  const shift = Date.now() % 4096;
  return Array.from({ length: count }, (_, i) => pool.subarray(i * 4096 + shift, i * 4096 + shift + 64 * MiB));
};
for (const phase of args.phases.split(',')) {
  if (phase === 'manifest-get') {
    results.push(await measure(phase, requests, 'request', () => runConcurrent(requests, concurrency, async (i) => {
      const res = await request('GET', `/v2/${repo}/manifests/${tags[i % tags.length]}`, { headers: { accept: OCI_MANIFEST } });
      if (res.status !== 200) throw new Error(`GET manifest answered ${res.status}`);
    })));
  } else if (phase === 'manifest-put') {
    const n = Math.min(requests, 4000);
    putRound += 1;
    results.push(await measure(phase, n, 'request', () => runConcurrent(n, 16, async (i) => {
      const res = await request('PUT', `/v2/${repo}/manifests/p${putRound}-${i}`, { headers: { 'content-type': OCI_MANIFEST }, body: manifestBody(`p${putRound}-${i}`) });
      if (res.status !== 201) throw new Error(`PUT manifest answered ${res.status}`);
    })));
  } else if (phase === 'push-mono' || phase === 'push-chunked') {
    const blobs = pushBlobs(pushMiB);
    const digests = blobs.map(sha);
    results.push(await measure(phase, blobs.length * 64, 'MiB', async () => {
      for (const [i, blob] of blobs.entries()) {
        const post = await request('POST', `/v2/${repo}/blobs/uploads/`);
        let location = post.headers.location;
        const sep = () => (location.includes('?') ? '&' : '?');
        if (phase === 'push-mono') {
          const put = await request('PUT', `${location}${sep()}digest=${digests[i]}`, { headers: { 'content-type': 'application/octet-stream' }, body: blob });
          if (put.status !== 201) throw new Error(`PUT blob answered ${put.status}`);
        } else {
          for (let o = 0; o < blob.length; o += 8 * MiB) {
            const patch = await request('PATCH', location, { headers: { 'content-type': 'application/octet-stream', 'content-range': `${o}-${o + 8 * MiB - 1}` }, body: blob.subarray(o, o + 8 * MiB) });
            if (patch.status !== 202) throw new Error(`PATCH answered ${patch.status}`);
            location = patch.headers.location;
          }
          const put = await request('PUT', `${location}${sep()}digest=${digests[i]}`);
          if (put.status !== 201) throw new Error(`PUT blob answered ${put.status}`);
        }
      }
    }));
  } else if (phase === 'idle') {
    const start = rssMiB();
    await new Promise((r) => setTimeout(r, 60_000));
    const r = { phase, rssMiBBefore: Math.round(start), rssMiBAfter60s: Math.round(rssMiB()) };
    console.log(JSON.stringify(r));
    results.push(r);
  } else {
    throw new Error(`unknown phase ${phase}`);
  }
}
const peak = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;
console.log(JSON.stringify({ serverPeakRssMiB: Math.round(peak), load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') }));
if (args.json) writeFileSync(args.json, JSON.stringify({ results, serverPeakRssMiB: Math.round(peak) }, null, 2));
agent.destroy();
await wharf.stop();
rmSync(work, { recursive: true, force: true });
