#!/usr/bin/env node
// delivery-bench.mjs: the cost the delivery flow adds where it runs on the hot path.
// 1. manifest PUTs of N images built on one 5-layer base (each PUT also indexes lineage, records
//    tag history and looks for webhook subscribers), timed one by one: p50/p99;
// 2. N promotions of those images into another project through the API: p50/p99.
// Usage: node bench/delivery-bench.mjs http://127.0.0.1:PORT [N] [user:password]
// (auth.mode none, or basic with an admin's user:password; the target project `bench-qa` is created.)
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
const [url, count = '300', creds] = process.argv.slice(2);
const N = Number(count);
const agent = new http.Agent({ keepAlive: true });
const auth = creds ? { authorization: `Basic ${Buffer.from(creds).toString('base64')}` } : {};
const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
function req(method, path, headers = {}, body) {
  return new Promise((res, rej) => {
    const r = http.request(new URL(path, url), { method, headers: { ...auth, ...headers, ...(body ? { 'content-length': body.length } : {}) }, agent }, (m) => {
      const chunks = [];
      m.on('data', (c) => chunks.push(c));
      m.on('end', () => res({ status: m.statusCode, headers: m.headers, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', rej);
    r.end(body);
  });
}
async function blob(repo, bytes) {
  const p = await req('POST', `/v2/${repo}/blobs/uploads/`);
  const loc = p.headers.location;
  const r = await req('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${sha(bytes)}`, { 'content-type': 'application/octet-stream' }, bytes);
  if (r.status !== 201) throw new Error(`blob ${r.status} ${r.body}`);
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(bytes), size: bytes.length };
}
const pct = (xs, p) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))].toFixed(1);
const run = Date.now().toString(36);
const repo = `bench-dev/app-${run}`;
if (creds) await req('POST', '/api/v1/projects', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ name: 'bench-dev' })));
await req('POST', '/api/v1/projects', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ name: 'bench-qa' })));
const base = [];
for (let i = 0; i < 5; i++) base.push(await blob(repo, randomBytes(512)));
const layer = await blob(repo, randomBytes(512));
const puts = [];
for (let i = 0; i < N; i++) {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: [`N=${i}`] }, rootfs: { type: 'layers', diff_ids: [] } }));
  const config = { ...(await blob(repo, configBytes)), mediaType: 'application/vnd.oci.image.config.v1+json' };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [...base, layer] }));
  const t0 = performance.now();
  const r = await req('PUT', `/v2/${repo}/manifests/v${i}`, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, manifest);
  puts.push(performance.now() - t0);
  if (r.status !== 201) throw new Error(`manifest ${r.status} ${r.body}`);
}
console.log(`manifest PUT (${N}): p50 ${pct(puts, 0.5)} ms, p99 ${pct(puts, 0.99)} ms`);
const promotions = [];
for (let i = 0; i < N; i++) {
  const body = Buffer.from(JSON.stringify({ source: { repository: repo, reference: `v${i}` }, target: { repository: `bench-qa/app-${run}` } }));
  const t0 = performance.now();
  const r = await req('POST', '/api/v1/promotions', { 'content-type': 'application/json' }, body);
  promotions.push(performance.now() - t0);
  if (r.status !== 201) throw new Error(`promotion ${r.status} ${r.body}`);
}
console.log(`promotion (${N}): p50 ${pct(promotions, 0.5)} ms, p99 ${pct(promotions, 0.99)} ms`);
agent.destroy();
