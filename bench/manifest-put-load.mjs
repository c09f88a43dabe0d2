#!/usr/bin/env node
// manifest-put-load.mjs: tagged manifest PUTs against one registry, at a fixed concurrency, and
// their rate and latency (p50, p99). Pushes a config and a layer first, then N distinct OCI image
// manifests (an annotation makes each unique) to tags t0..t499 in turn: after the first 500, every
// PUT moves a tag.
// Plain Node.js, no dependencies; for A/B runs of one code path without the rest of
// registry-bench.mjs (docs/benchmarks.md, "Tenth session").
//
// Usage: node bench/manifest-put-load.mjs URL [N=1000] [CONCURRENCY=1]
import { createHash } from 'node:crypto';
import http from 'node:http';
const [url, N = '1000', C = '1'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
function req(method, path, body, headers = {}) {
  return new Promise((res, rej) => {
    const r = http.request(new URL(path, url), { method, agent, headers: { ...headers, 'content-length': body ? body.length : 0 } }, (x) => { x.resume(); x.on('end', () => res(x)); });
    r.on('error', rej); r.end(body);
  });
}
async function blob(repo, bytes) {
  const d = sha(bytes);
  const r = await req('POST', `/v2/${repo}/blobs/uploads/`);
  const loc = new URL(r.headers.location, url); loc.searchParams.set('digest', d);
  const p = await req('PUT', loc.pathname + loc.search, bytes, { 'content-type': 'application/octet-stream' });
  if (p.statusCode !== 201) throw new Error('blob ' + p.statusCode);
  return { digest: d, size: bytes.length };
}
const repo = 'load/r' + Date.now();
const c = await blob(repo, Buffer.from('{"architecture":"amd64","os":"linux","n":' + Date.now() + '}'));
const l = await blob(repo, Buffer.from('layer' + Date.now()));
let next = 0; const lat = [];
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(C) }, async () => {
  while (next < Number(N)) {
    const i = next++;
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }], annotations: { i: String(i) } }));
    const s = performance.now();
    const r = await req('PUT', `/v2/${repo}/manifests/t${i % 500}`, m, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    if (r.statusCode !== 201) throw new Error('put ' + r.statusCode);
    lat.push(performance.now() - s);
  }
}));
const secs = (performance.now() - t0) / 1000; lat.sort((a, b) => a - b);
console.log(`PUT c=${C}: ${(Number(N) / secs).toFixed(0)} req/s p50 ${lat[lat.length >> 1].toFixed(2)} p99 ${lat[Math.floor(lat.length * 0.99)].toFixed(2)} ms`);
