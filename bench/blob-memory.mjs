#!/usr/bin/env node
// blob-memory.mjs: pushes one large blob (default 2 GiB) to a running registry as a single
// streamed PATCH, pulls it back, checks its digest, and reports the server's peak RSS (VmHWM)
// and RSS over the run. The blob is generated from a seeded PRNG, never held in memory here.
//
// Usage: node bench/blob-memory.mjs --url http://127.0.0.1:5000 --pid SERVER_PID [--gib 2]
import http from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { url: { type: 'string' }, pid: { type: 'string' }, gib: { type: 'string', default: '2' } } });
if (!args.url || !args.pid) {
  console.error('usage: node bench/blob-memory.mjs --url URL --pid SERVER_PID [--gib N]');
  process.exit(2);
}
const MiB = 1 << 20;
const total = Number(args.gib) * 1024 * MiB;
const repo = `bench/memory-${Date.now().toString(36)}`;
const agent = new http.Agent({ keepAlive: true });

const status = (pid) => Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').map((l) => l.split(':')).filter((p) => p.length === 2).map(([k, v]) => [k.trim(), v.trim()]));
const kib = (value) => Number(String(value).split(' ')[0]);
try { writeFileSync(`/proc/${args.pid}/clear_refs`, '5'); } catch { /* resetting VmHWM needs privileges */ }
let maxRss = 0;
const sampler = setInterval(() => { maxRss = Math.max(maxRss, kib(status(args.pid).VmRSS)); }, 50);

// A fast deterministic stream: one 1 MiB block rewritten per chunk with the chunk index.
function generate() {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return this.push(null);
      const chunk = Buffer.from(block);
      chunk.writeUInt32LE(sent / MiB, 0);
      sent += MiB;
      this.push(chunk);
    },
  });
}

function request(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, args.url), { method, headers, agent }, (res) => resolve(res));
    req.on('error', reject);
    if (body) body.pipe(req); else req.end();
  });
}
async function drainHash(res) {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res) { hash.update(chunk); bytes += chunk.length; }
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}

const expectedHash = createHash('sha256');
const body = generate().pipe(new Transform({ transform(chunk, _e, done) { expectedHash.update(chunk); done(null, chunk); } }));
let start = performance.now();
const post = await request('POST', `/v2/${repo}/blobs/uploads/`);
await drainHash(post);
const location = post.headers.location;
const patch = await request('PATCH', location, { headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, body });
await drainHash(patch);
if (patch.statusCode !== 202) throw new Error(`PATCH answered ${patch.statusCode}`);
const digest = `sha256:${expectedHash.digest('hex')}`;
const put = await request('PUT', `${patch.headers.location}${patch.headers.location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`);
await drainHash(put);
if (put.statusCode !== 201) throw new Error(`PUT answered ${put.statusCode}`);
const pushSeconds = (performance.now() - start) / 1000;
start = performance.now();
const get = await request('GET', `/v2/${repo}/blobs/${digest}`);
const pulled = await drainHash(get);
const pullSeconds = (performance.now() - start) / 1000;
clearInterval(sampler);
if (pulled.digest !== digest || pulled.bytes !== total) throw new Error(`pulled ${pulled.bytes} bytes with digest ${pulled.digest}, expected ${digest}`);
const peak = kib(status(args.pid).VmHWM);
console.log(JSON.stringify({
  blobMiB: total / MiB,
  pushMiBps: Math.round(total / MiB / pushSeconds),
  pullMiBps: Math.round(total / MiB / pullSeconds),
  serverPeakRssMiB: Math.round(peak / 1024),
  serverMaxSampledRssMiB: Math.round(maxRss / 1024),
  digestVerified: true,
}));
agent.destroy();
