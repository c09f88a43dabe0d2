/**
 * Where storage management meets the delivery flow: retention never removes a tag an immutable-tag
 * rule holds; a push that reaches 80 % of the quota publishes `quota.warning` to the project's
 * webhook; a GC run publishes `gc.finished` to registry-wide webhooks, with the run's counts.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { GcReport } from '../../src/gc/report.js';
import { ADMIN, adminEnv, apiOk } from '../api/auth-support.js';
import { get, pushImage } from '../fixtures/http.js';
import { ociImage, randomBlob } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { startReceiver } from '../fixtures/webhook-receiver.js';
import { webhookTestConfig } from './webhook-support.js';

async function finishedRun(url: string, id: string): Promise<GcReport> {
  for (let i = 0; i < 400; i++) {
    const report = await apiOk<GcReport>(url, 'GET', `/gc/runs/${id}`, { auth: ADMIN });
    if (report.status !== 'running') return report;
    await sleep(50);
  }
  throw new Error(`gc run ${id} did not finish`);
}

test('immutable tags survive retention; quota.warning and gc.finished reach their webhooks', { timeout: 120_000 }, async (t) => {
  const srv = await startWharfFor(t, { config: { ...webhookTestConfig, gc: { schedule: 'off', untaggedGraceHours: 0 } }, env: adminEnv });
  const url = srv.url;
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  const rx = await startReceiver(t);
  const projectHook = await apiOk<{ secret: string }>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'team', url: rx.url('/team'), events: ['quota.warning', 'gc.finished'] } });
  rx.secrets.set('/team', projectHook.secret);
  const registryHook = await apiOk<{ secret: string }>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: null, url: rx.url('/all'), events: ['gc.finished'] } });
  rx.secrets.set('/all', registryHook.secret);

  // Retention keeps only the newest tag; the immutable `v*` tags stay whatever their age.
  await apiOk(url, 'PUT', '/projects/team/rules', { auth: ADMIN, body: { immutableTags: ['v*'] } });
  await apiOk(url, 'PUT', '/projects/team/policy', { auth: ADMIN, body: { retention: { keepLatest: 1 } } });
  for (const tag of ['v1', 'build-1', 'v2', 'build-2', 'build-3']) await pushImage(url, 'team/app', tag, ociImage({ layers: [randomBlob(500)] }), { auth: ADMIN });

  // Room for 3 000 more bytes: the next image (about 2 500 with its config and manifest) passes 80 %.
  const quota = await apiOk<{ usedBytes: number }>(url, 'GET', '/projects/team/quota', { auth: ADMIN });
  await apiOk(url, 'PUT', '/projects/team/quota', { auth: ADMIN, body: { limitBytes: quota.usedBytes + 3_000 } });
  await pushImage(url, 'team/app', 'build-4', ociImage({ layers: [randomBlob(1_800)] }), { auth: ADMIN });
  await rx.waitFor((all) => all.some((r) => r.type === 'quota.warning'), 20_000, 'quota.warning');
  const warning = rx.received.find((r) => r.type === 'quota.warning')!;
  assert.equal(warning.path, '/team');
  const warned = (warning.json as { data: { project: string; usedBytes: number; quotaBytes: number; percent: number } }).data;
  assert.equal(warned.project, 'team');
  assert.equal(warned.quotaBytes, quota.usedBytes + 3_000);
  assert.ok(warned.percent >= 80 && warned.percent <= 100, `percent ${warned.percent}`);

  const started = await apiOk<GcReport>(url, 'POST', '/gc', { auth: ADMIN, body: { graceSeconds: 0 } });
  const report = await finishedRun(url, started.id);
  assert.equal(report.status, 'finished', report.error ?? '');
  const removed = (report.items?.tags ?? []).map((x) => x.tag).sort();
  assert.deepEqual(removed, ['build-1', 'build-2', 'build-3'], 'keepLatest 1 keeps build-4; the immutable v1 and v2 are never candidates');
  const tags = (await get(`${url}/v2/team/app/tags/list`, { auth: ADMIN })).json<{ tags: string[] }>().tags.sort();
  assert.deepEqual(tags, ['build-4', 'v1', 'v2']);

  await rx.waitFor((all) => all.some((r) => r.type === 'gc.finished'), 20_000, 'gc.finished');
  const finished = rx.received.filter((r) => r.type === 'gc.finished');
  assert.deepEqual(finished.map((r) => r.path), ['/all'], 'gc.finished is registry-wide: not sent to project endpoints');
  const data = (finished[0]!.json as { data: { id: string; status: string; tags: number; manifests: number; bytesFreed: number; dryRun: boolean } }).data;
  assert.deepEqual([data.id, data.status, data.dryRun, data.tags, data.manifests], [report.id, 'finished', false, 3, report.manifests]);
  assert.equal(data.bytesFreed, report.bytesFreed);
  assert.ok(report.bytesFreed > 0, 'the untagged build images were collected');
  assert.ok(rx.received.every((r) => r.signed), 'every delivery carries a valid signature');
});
