/**
 * /api/v1/gc and project policies on a real server: who may run GC, a dry run and a real run
 * started over the API and read back as reports, the lock held elsewhere (409), the audit log and
 * /metrics, policy validation and permissions.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { GcReport } from '../../src/gc/report.js';
import { openDatabase } from '../../src/metadata/database.js';
import { get, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { ADMIN, adminEnv, api, apiOk, type Creds } from './auth-support.js';
import { assertError } from './support.js';

async function finished(url: string, id: string): Promise<GcReport> {
  for (let i = 0; i < 200; i++) {
    const report = await apiOk<GcReport>(url, 'GET', `/gc/runs/${id}`, { auth: ADMIN });
    if (report.status !== 'running') return report;
    await sleep(50);
  }
  throw new Error(`gc run ${id} did not finish`);
}

test('GC over the API: admins only, dry run then real run as reports, 409 while locked, audit and metrics', async (t) => {
  const srv = await startWharfFor(t, { config: { auth: { mode: 'basic' }, gc: { schedule: '17 3 * * *', untaggedGraceHours: 0 } }, env: adminEnv });
  const url = srv.url;
  const dev: Creds = { username: 'dev', password: 'dev-password-1' };
  await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: dev.username, password: dev.password } });
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  await apiOk(url, 'PUT', '/projects/team/members/dev', { auth: ADMIN, body: { role: 'developer' } });
  const old = ociImage();
  const current = ociImage();
  await pushImage(url, 'team/app', 'v1', old, { auth: ADMIN });
  await pushImage(url, 'team/app', 'v1', current, { auth: ADMIN });

  assertError(await api(url, 'GET', '/gc'), 401, 'UNAUTHORIZED');
  assertError(await api(url, 'POST', '/gc', { auth: dev, body: {} }), 403, 'DENIED');
  assertError(await api(url, 'POST', '/gc', { auth: ADMIN, body: { dryRun: 'yes' } }), 400, 'INVALID_REQUEST');
  const status = await apiOk<{ schedule: string; nextRunAt: string; graceSeconds: number; runs: GcReport[] }>(url, 'GET', '/gc', { auth: ADMIN });
  assert.equal(status.schedule, '17 3 * * *');
  assert.match(status.nextRunAt, /T03:17:00/);
  assert.equal(status.graceSeconds, 86400);

  const dryStart = await api(url, 'POST', '/gc', { auth: ADMIN, body: { dryRun: true, graceSeconds: 0 } });
  assert.equal(dryStart.status, 202, dryStart.text());
  const dry = await finished(url, dryStart.json<GcReport>().id);
  assert.equal(dry.status, 'finished');
  assert.deepEqual(dry.items?.manifests.map((m) => m.digest), [old.manifest.digest]);
  assert.equal((await get(`${url}/v2/team/app/manifests/${old.manifest.digest}`, { auth: ADMIN })).status, 200, 'a dry run removes nothing');

  const realStart = await apiOk<GcReport>(url, 'POST', '/gc', { auth: ADMIN, body: { graceSeconds: 0 } });
  const real = await finished(url, realStart.id);
  assert.equal(real.manifests, 1);
  assert.equal(real.bytesFreed, dry.bytesFreed);
  assert.equal((await get(`${url}/v2/team/app/manifests/${old.manifest.digest}`, { auth: ADMIN })).status, 404);
  assert.equal((await get(`${url}/v2/team/app/manifests/v1`, { auth: ADMIN, headers: { accept: current.manifest.mediaType } })).status, 200);

  const runs = await apiOk<{ runs: GcReport[] }>(url, 'GET', '/gc/runs?limit=5', { auth: ADMIN });
  assert.deepEqual(runs.runs.map((r) => [r.id, r.dryRun]), [[real.id, false], [dry.id, true]]);
  assert.equal('items' in runs.runs[0]!, false, 'lists carry counts only');
  assertError(await api(url, 'GET', '/gc/runs/nope', { auth: ADMIN }), 404, 'NOT_FOUND');

  const audit = await apiOk<{ events: Array<{ action: string; actor: string; detail: { manifests: number; bytesFreed: number } }> }>(url, 'GET', '/audit?action=gc,gc.dry-run', { auth: ADMIN });
  assert.deepEqual(audit.events.map((e) => [e.action, e.actor]), [['gc', 'root'], ['gc.dry-run', 'root']]);
  assert.equal(audit.events[0]!.detail.manifests, 1);
  assert.equal(audit.events[0]!.detail.bytesFreed, real.bytesFreed);

  // The run's own log lines reach the server's log (on SQLite they come from its GC worker thread).
  const logged = srv.logs().split('\n').filter((line) => line.includes('"msg":"gc finished"')).map((line) => JSON.parse(line) as { component?: string; gcRun?: string; manifests?: number });
  assert.deepEqual(logged.map((l) => [l.component, l.gcRun, l.manifests]), [['gc', real.id, 1]]);

  const metrics = (await get(`${url}/metrics`)).text();
  assert.match(metrics, /^wharf_gc_runs_total\{status="finished",dry_run="false"\} 1$/m);
  assert.match(metrics, /^wharf_gc_removed_total\{kind="manifests"\} 1$/m);
  assert.match(metrics, new RegExp(`^wharf_gc_freed_bytes_total ${real.bytesFreed}$`, 'm'));

  // Another instance holds the lock: refused, and the run list says nothing new. (The server's own
  // database: its SQLite file, or its PostgreSQL database in the suite's second pass.)
  const postgres = (srv.config.database as { postgres?: { url: string } } | undefined)?.postgres;
  const db = await openDatabase(postgres ? { driver: 'postgres', url: postgres.url, poolSize: 1 } : { driver: 'sqlite', path: path.join(srv.dataDir, 'wharf.db') });
  t.after(() => db.destroy());
  await db.insertInto('leases').values({ name: 'gc', holder: 'other-instance:gc:x', acquired_at: Date.now(), expires_at: Date.now() + 600_000 }).execute();
  assertError(await api(url, 'POST', '/gc', { auth: ADMIN, body: {} }), 409, 'CONFLICT');
  await db.deleteFrom('leases').where('name', '=', 'gc').execute();
});

test('project policies: defaults, validation, who may change them, audit', async (t) => {
  const srv = await startWharfFor(t, { config: { auth: { mode: 'basic' }, gc: { schedule: 'off', untaggedGraceHours: 48 } }, env: adminEnv });
  const url = srv.url;
  const dev: Creds = { username: 'dev', password: 'dev-password-1' };
  await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: dev.username, password: dev.password } });
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  await apiOk(url, 'PUT', '/projects/team/members/dev', { auth: ADMIN, body: { role: 'developer' } });

  assert.deepEqual(await apiOk(url, 'GET', '/projects/team/policy', { auth: dev }), {
    project: 'team',
    custom: false,
    policy: { deleteUntagged: true },
    untaggedGraceHours: 48,
  });
  const policy = { retention: { keepLatest: 3, keepPatterns: ['v*'], dropPatterns: ['pr-*'], maxAgeDays: 30, unpulledDays: 7 }, deleteUntagged: true, untaggedGraceHours: 2 };
  assertError(await api(url, 'PUT', '/projects/team/policy', { auth: dev, body: policy }), 403, 'DENIED');
  // Like every /api/v1 body, unknown keys are dropped by the schema, not stored.
  assert.deepEqual((await apiOk<{ policy: unknown }>(url, 'PUT', '/projects/team/policy', { auth: ADMIN, body: { ...policy, extra: 1 } })).policy, policy);
  assertError(await api(url, 'PUT', '/projects/team/policy', { auth: ADMIN, body: { retention: { dropPatterns: ['pr/*'] } } }), 400, 'INVALID_REQUEST');
  assertError(await api(url, 'PUT', '/projects/team/policy', { auth: ADMIN, body: { retention: { keepLatest: -1 } } }), 400, 'INVALID_REQUEST');
  assertError(await api(url, 'PUT', '/projects/nope/policy', { auth: ADMIN, body: policy }), 404, 'NOT_FOUND');
  const set = await apiOk(url, 'PUT', '/projects/team/policy', { auth: ADMIN, body: policy });
  assert.deepEqual(set, { project: 'team', custom: true, policy, untaggedGraceHours: 2 });
  assert.deepEqual(await apiOk(url, 'GET', '/projects/team/policy', { auth: dev }), set);
  assert.equal((await api(url, 'DELETE', '/projects/team/policy', { auth: ADMIN })).status, 204);
  assert.equal((await apiOk<{ custom: boolean }>(url, 'GET', '/projects/team/policy', { auth: ADMIN })).custom, false);
  const audit = await apiOk<{ events: Array<{ action: string; project: string; detail: { policy: unknown } }> }>(url, 'GET', '/audit?action=project.policy', { auth: ADMIN });
  assert.deepEqual(audit.events.map((e) => e.detail.policy), [null, policy, policy]);
});
