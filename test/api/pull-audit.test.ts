/**
 * Pulls through the HTTP API in basic mode: manifest GETs by a user, a robot and a real client
 * (skopeo) are counted on the manifest (tags list and image view: pull count, last pulled) and in
 * the audit log as hourly rows per manifest, reference and identity; console reads and HEADs are
 * not pulls; `auth.auditPulls: each` keeps one row per pull.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { get, head, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { ADMIN, adminEnv, apiOk, type Creds } from './auth-support.js';

interface AuditRow {
  time: string;
  firstTime: string | null;
  count: number;
  actor: string;
  action: string;
  reference: string | null;
  digest: string | null;
  detail: unknown;
}

async function setUp(t: Parameters<typeof startWharfFor>[0], auditPulls?: 'each') {
  const srv = await startWharfFor(t, { config: { auth: { mode: 'basic', ...(auditPulls ? { auditPulls } : {}) } }, env: adminEnv });
  await apiOk(srv.url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  const alice: Creds = { username: 'alice', password: 'alice-password-1' };
  await apiOk(srv.url, 'POST', '/users', { auth: ADMIN, body: { name: alice.username, password: alice.password } });
  await apiOk(srv.url, 'PUT', '/projects/team/members/alice', { auth: ADMIN, body: { role: 'developer' } });
  const robot = await apiOk<{ robot: { name: string }; secret: string }>(srv.url, 'POST', '/projects/team/robots', { auth: ADMIN, body: { name: 'ci', actions: ['pull'] } });
  const image = ociImage();
  await pushImage(srv.url, 'team/app', 'v1', image, { auth: ADMIN });
  return { srv, alice, robot: { username: robot.robot.name, password: robot.secret }, image };
}

test('pulls are counted per manifest and audited per hour, reference and identity', { skip: missingClients('skopeo') }, async (t) => {
  const { srv, alice, robot, image } = await setUp(t);
  const accept = { accept: image.manifest.mediaType };
  const started = Date.now();
  for (let i = 0; i < 5; i++) assert.equal((await get(`${srv.url}/v2/team/app/manifests/v1`, { auth: alice, headers: accept })).status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await get(`${srv.url}/v2/team/app/manifests/${image.manifest.digest}`, { auth: robot })).status, 200);
  // Neither a HEAD nor the console's reads are pulls.
  assert.equal((await head(`${srv.url}/v2/team/app/manifests/v1`, { auth: alice, headers: accept })).status, 200);
  await apiOk(srv.url, 'GET', '/repositories/team/app/-/manifests/v1', { auth: ADMIN });

  const c = await createClientEnvFor(t, { registries: [srv.host] });
  await c.skopeo(['inspect', '--raw', '--creds', `${alice.username}:${alice.password}`, `docker://${srv.host}/team/app:v1`]);

  const tags = await apiOk<{ items: Array<{ name: string; pullCount: number; lastPulledAt: number | null }> }>(srv.url, 'GET', '/repositories/team/app/-/tags', { auth: ADMIN });
  const v1 = tags.items.find((i) => i.name === 'v1')!;
  assert.ok(v1.pullCount >= 9, `5 + 3 GETs and skopeo's: ${v1.pullCount}`);
  const skopeoGets = v1.pullCount - 8;
  assert.ok(v1.lastPulledAt !== null && v1.lastPulledAt >= started - 1000 && v1.lastPulledAt <= Date.now() + 1000, 'last pulled: now');
  const imageView = await apiOk<{ pullCount: number; lastPulledAt: number }>(srv.url, 'GET', '/repositories/team/app/-/manifests/v1', { auth: ADMIN });
  assert.equal(imageView.pullCount, v1.pullCount);

  const audit = await apiOk<{ total: number; events: AuditRow[] }>(srv.url, 'GET', '/audit?action=pull', { auth: ADMIN });
  // One row per identity and reference (two if the test ran across the turn of an hour).
  const pulled = new Map<string, number>();
  for (const e of audit.events) pulled.set(`${e.actor} ${e.reference}`, (pulled.get(`${e.actor} ${e.reference}`) ?? 0) + e.count);
  assert.deepEqual(Object.fromEntries(pulled), { 'alice v1': 5 + skopeoGets, [`${robot.username} ${image.manifest.digest}`]: 3 }, JSON.stringify(audit.events));
  assert.ok(audit.total <= 4, 'rows stand for several pulls');
  for (const e of audit.events) {
    assert.equal(e.digest, image.manifest.digest);
    assert.ok(e.firstTime !== null && Date.parse(e.firstTime) <= Date.parse(e.time));
    assert.deepEqual(e.detail, e.actor === 'alice' ? null : { robot: true });
  }
  // Who pulled team/app: filter by identity.
  const robotOnly = await apiOk<{ total: number; events: AuditRow[] }>(srv.url, 'GET', `/audit?action=pull&actor=${encodeURIComponent(robot.username)}`, { auth: ADMIN });
  assert.equal(robotOnly.events.reduce((n, e) => n + e.count, 0), 3);
  // Other events keep one row each, with count 1.
  const pushes = await apiOk<{ events: AuditRow[] }>(srv.url, 'GET', '/audit?action=push', { auth: ADMIN });
  assert.ok(pushes.events.length >= 1 && pushes.events.every((e) => e.count === 1 && e.firstTime === null));
});

test('auditPulls: each keeps one audit row per pull', async (t) => {
  const { srv, alice, image } = await setUp(t, 'each');
  for (let i = 0; i < 4; i++) await get(`${srv.url}/v2/team/app/manifests/v1`, { auth: alice, headers: { accept: image.manifest.mediaType } });
  const audit = await apiOk<{ total: number; events: AuditRow[] }>(srv.url, 'GET', '/audit?action=pull', { auth: ADMIN });
  assert.equal(audit.total, 4);
  assert.ok(audit.events.every((e) => e.count === 1 && e.actor === 'alice'));
  const image2 = await apiOk<{ pullCount: number }>(srv.url, 'GET', '/repositories/team/app/-/manifests/v1', { auth: ADMIN });
  assert.equal(image2.pullCount, 4);
});
