#!/usr/bin/env node
// pull-growth.mjs: how much the metadata database grows per manifest pull. Starts Wharf (SQLite,
// basic auth) with a fresh data directory, creates USERS users and pushes MANIFESTS manifests,
// stops it (SQLite checkpoints and removes the WAL on a clean stop) and takes the size of
// wharf.db; starts it again, runs PULLS manifest GETs (each user in turn, every manifest in turn,
// by tag, CONCURRENCY at a time), stops it and takes the size again. Prints bytes per pull, the
// audit rows written, and the pull count the API reports (which must equal PULLS).
//
// Usage: node bench/pull-growth.mjs [--pulls 200000] [--manifests 50] [--users 4]
//          [--concurrency 16] [--audit-pulls hourly|each]
import { statSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startWharf } from './wharf-process.mjs';

const { values: args } = parseArgs({
  options: {
    pulls: { type: 'string', default: '200000' },
    manifests: { type: 'string', default: '50' }, // at most 100 (one page of the tags API)
    users: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '16' },
    'audit-pulls': { type: 'string', default: 'hourly' },
  },
});
const pulls = Number(args.pulls);
const manifestCount = Number(args.manifests);
const userCount = Number(args.users);
const work = mkdtempSync(join(tmpdir(), 'wharf-pull-growth-'));
const admin = { user: 'admin', password: 'admin-password-1' };
const extraYaml = `auth:\n  mode: basic\n  auditPulls: ${args['audit-pulls']}\n`;
const env = { WHARF_ADMIN_USER: admin.user, WHARF_ADMIN_PASSWORD: admin.password };
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(args.concurrency) });
const basic = ({ user, password }) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const OCI = 'application/vnd.oci.image.manifest.v1+json';

function request(url, method, path, { auth, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, agent, headers: { ...headers, ...(auth ? { authorization: basic(auth) } : {}), ...(body ? { 'content-length': body.length } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const ok = async (promise, what) => {
  const res = await promise;
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${res.body}`);
  return res;
};
const json = (value) => ({ headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) });
const dbSize = () => ['wharf.db', 'wharf.db-wal'].reduce((n, f) => n + (statSync(join(work, 'data', f), { throwIfNoEntry: false })?.size ?? 0), 0);

// ---- set up: users, a project, manifests
let wharf = await startWharf({ work, extraYaml, env });
process.on('unhandledRejection', async (error) => {
  console.error(error);
  await wharf.stop();
  process.exit(1);
});
const users = Array.from({ length: userCount }, (_, i) => ({ user: `puller${i}`, password: `puller-password-${i}` }));
await ok(request(wharf.url, 'POST', '/api/v1/projects', { auth: admin, ...json({ name: 'bench' }) }), 'create project');
for (const u of users) {
  await ok(request(wharf.url, 'POST', '/api/v1/users', { auth: admin, ...json({ name: u.user, password: u.password }) }), 'create user');
  await ok(request(wharf.url, 'PUT', `/api/v1/projects/bench/members/${u.user}`, { auth: admin, ...json({ role: 'guest' }) }), 'add member');
}
const blob = async (bytes) => {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await ok(request(wharf.url, 'POST', `/v2/bench/app/blobs/uploads/?digest=${digest}`, { auth: admin, headers: { 'content-type': 'application/octet-stream' }, body: bytes }), 'push blob');
  return { digest, size: bytes.length };
};
const config = await blob(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
const layer = await blob(Buffer.alloc(1024, 7));
for (let i = 0; i < manifestCount; i++) {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }], annotations: { n: String(i) } }));
  await ok(request(wharf.url, 'PUT', `/v2/bench/app/manifests/v${i}`, { auth: admin, headers: { 'content-type': OCI }, body }), 'push manifest');
}
await wharf.stop();
const before = dbSize();

// ---- the pulls
wharf = await startWharf({ work, extraYaml, env, port: wharf.port });
const started = performance.now();
let next = 0;
await Promise.all(Array.from({ length: Number(args.concurrency) }, async () => {
  while (next < pulls) {
    const i = next++;
    const res = await request(wharf.url, 'GET', `/v2/bench/app/manifests/v${i % manifestCount}`, { auth: users[Math.floor(i / manifestCount) % userCount], headers: { accept: OCI } });
    if (res.status !== 200) throw new Error(`GET manifest: ${res.status}`);
  }
}));
const seconds = (performance.now() - started) / 1000;
const tags = JSON.parse((await ok(request(wharf.url, 'GET', `/api/v1/repositories/bench/app/-/tags?limit=${Math.min(manifestCount, 100)}`, { auth: admin }), 'tags')).body);
const counted = tags.items.reduce((n, t) => n + t.pullCount, 0);
const audit = JSON.parse((await ok(request(wharf.url, 'GET', '/api/v1/audit?action=pull&limit=1', { auth: admin }), 'audit')).body);
await wharf.stop();
const after = dbSize();
agent.destroy();
rmSync(work, { recursive: true, force: true });

const result = {
  pulls,
  manifests: manifestCount,
  users: userCount,
  auditPulls: args['audit-pulls'],
  pullsPerSecond: Math.round(pulls / seconds),
  dbBytesBefore: before,
  dbBytesAfter: after,
  bytesPerPull: Math.round(((after - before) / pulls) * 100) / 100,
  pullRowsInAudit: audit.total,
  pullCountFromApi: counted,
  countsMatch: counted === pulls,
};
console.log(JSON.stringify(result));
if (!result.countsMatch) process.exitCode = 1;
