/**
 * Mirror benchmark: a cached pull's throughput beside a private pull's, and the time to first
 * byte of an uncached blob (the mirror streams while it downloads, so the first byte does not
 * wait for the whole layer). Starts its own upstream and mirror (two `wharf serve` processes on
 * 127.0.0.1, filesystem storage, SQLite), pushes streamed deterministic blobs, pulls them with
 * plain HTTP GETs and hashes every body (never held in memory).
 *
 *   npx tsc -p . && node dist/bench/mirror-bench.js [--mib 256] [--runs 5]
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startWharf } from '../test/fixtures/server.js';
import { hashStream, pushStreamedBlob } from '../test/integration/mirror-fixtures.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' }, runs: { type: 'string', default: '5' } } });
const size = Number(values.mib) * 1024 * 1024;
const runs = Number(values.runs);
const agent = new http.Agent({ keepAlive: true });

interface Timing {
  ttfbMs: number;
  totalMs: number;
  mibPerSecond: number;
}

function timedGet(url: string, expected: string): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - started) / 1e6;
    http
      .get(url, { agent }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`${url}: ${res.statusCode}`));
          res.resume();
          return;
        }
        let ttfbMs = -1;
        res.once('data', () => (ttfbMs = ms()));
        hashStream(res).then(({ digest, size: got }) => {
          if (digest !== expected || got !== size) reject(new Error(`${url}: wrong body ${digest} ${got}`));
          const totalMs = ms();
          resolve({ ttfbMs, totalMs, mibPerSecond: size / 1024 / 1024 / (totalMs / 1000) });
        }, reject);
      })
      .on('error', reject);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (ts: Timing[]) => ({
  ttfbMs: median(ts.map((t) => t.ttfbMs)).toFixed(1),
  totalMs: median(ts.map((t) => t.totalMs)).toFixed(0),
  mibPerSecond: median(ts.map((t) => t.mibPerSecond)).toFixed(0),
});

const upstream = await startWharf();
const mirror = await startWharf({ config: { mirror: { upstreams: [{ name: 'hub', url: upstream.url, registry: 'docker.io' }] } } });
try {
  const uncachedRuns: Timing[] = [];
  const cached: Timing[] = [];
  const direct: Timing[] = [];
  const privateRuns: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    // a fresh upstream blob per run: each first pull is a real miss
    const digest = await pushStreamedBlob(upstream.url, 'bench/up', `mirror-bench-${Date.now()}-${i}`, size);
    uncachedRuns.push(await timedGet(`${mirror.url}/v2/hub/bench/up/blobs/${digest}`, digest));
    // let the verified spool land in storage (fsync, rename, metadata) before measuring hits
    const hex = digest.slice('sha256:'.length);
    const file = path.join(mirror.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
    while (!existsSync(file)) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    cached.push(await timedGet(`${mirror.url}/v2/hub/bench/up/blobs/${digest}`, digest));
    direct.push(await timedGet(`${upstream.url}/v2/bench/up/blobs/${digest}`, digest));
    // a fresh private blob too, so both are "first read after the write" (same page-cache state)
    const privateDigest = await pushStreamedBlob(mirror.url, 'bench/private', `mirror-bench-private-${Date.now()}-${i}`, size);
    privateRuns.push(await timedGet(`${mirror.url}/v2/bench/private/blobs/${privateDigest}`, privateDigest));
  }

  const rows = [
    ['uncached blob through the mirror (first pull)', summary(uncachedRuns)],
    ['cached blob from the mirror', summary(cached)],
    ['private blob from the mirror', summary(privateRuns)],
    ['same blob straight from the upstream', summary(direct)],
  ] as const;
  console.log(`blob ${values.mib} MiB, ${runs} runs each, medians`);
  console.log('| pull | time to first byte (ms) | total (ms) | MiB/s |');
  console.log('|---|---|---|---|');
  for (const [name, s] of rows) console.log(`| ${name} | ${s.ttfbMs} | ${s.totalMs} | ${s.mibPerSecond} |`);
} finally {
  agent.destroy();
  await mirror.stop();
  await upstream.stop();
}
