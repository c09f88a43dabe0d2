#!/usr/bin/env node
// push-bench.mjs: pushes 8 fresh 64 MiB blobs to a registry, sequentially, and prints MiB/s.
// mono = POST then PUT ?digest= with the body; chunked = POST, 8 MiB PATCHes with Content-Range, PUT.
// Usage: node bench/push-bench.mjs http://127.0.0.1:PORT mono|chunked
import http from 'node:http';
import { createHash, randomFillSync } from 'node:crypto';
const [url, mode] = process.argv.slice(2);
const MiB = 1 << 20, N = 8, SIZE = 64 * MiB, CHUNK = 8 * MiB;
const pool = randomFillSync(Buffer.allocUnsafe(SIZE + N * 4096));
const agent = new http.Agent({ keepAlive: true });
const shift = Date.now() % 4096; // a fresh window of the pool per run, so every run pushes new digests
const blobs = [...Array(N)].map((_, i) => { const b = pool.subarray(i * 4096 + shift, i * 4096 + shift + SIZE); return { b, d: 'sha256:' + createHash('sha256').update(b).digest('hex') }; });
function req(method, path, headers = {}, body) {
  return new Promise((res, rej) => { const r = http.request(new URL(path, url), { method, headers: body ? { ...headers, 'content-length': body.length } : headers, agent }, (m) => { m.resume(); m.on('end', () => res(m)); }); r.on('error', rej); r.end(body); });
}
const repo = `pb/${mode}-${Date.now().toString(36)}`;
const t0 = performance.now();
for (const { b, d } of blobs) {
  const p = await req('POST', `/v2/${repo}/blobs/uploads/`);
  let loc = p.headers.location;
  const sep = () => (loc.includes('?') ? '&' : '?');
  if (mode === 'mono') {
    const r = await req('PUT', `${loc}${sep()}digest=${d}`, { 'content-type': 'application/octet-stream' }, b);
    if (r.statusCode !== 201) throw new Error('put ' + r.statusCode);
  } else {
    for (let o = 0; o < b.length; o += CHUNK) {
      const r = await req('PATCH', loc, { 'content-type': 'application/octet-stream', 'content-range': `${o}-${o + CHUNK - 1}` }, b.subarray(o, o + CHUNK));
      if (r.statusCode !== 202) throw new Error('patch ' + r.statusCode);
      loc = r.headers.location;
    }
    const r = await req('PUT', `${loc}${sep()}digest=${d}`);
    if (r.statusCode !== 201) throw new Error('put ' + r.statusCode);
  }
}
console.log(mode, (N * 64 / ((performance.now() - t0) / 1000)).toFixed(0), 'MiB/s');
agent.destroy();
