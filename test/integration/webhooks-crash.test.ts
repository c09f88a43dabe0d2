/**
 * Webhook delivery is at-least-once and claimed by one instance at a time: a Wharf killed with
 * SIGKILL in the middle of a delivery delivers it after its restart, and two instances sharing
 * one database deliver every event exactly once between them when receivers answer promptly.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { pushImage } from '../fixtures/http.js';
import { ociImage, randomBlob, type Image } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { postgresUrl, freshDatabase } from '../fixtures/postgres.js';
import { startWharf, startWharfFor } from '../fixtures/server.js';
import { startReceiver, type Received } from '../fixtures/webhook-receiver.js';
import { ADMIN, adminEnv, apiOk } from '../api/auth-support.js';
import { webhookTestConfig } from './webhook-support.js';

const pushedDigest = (r: Received) => (r.json as { data?: { digest?: string } }).data?.digest;

test('a Wharf killed with SIGKILL mid-delivery delivers every event after its restart', { timeout: 120_000 }, async (t) => {
  const dataDir = await makeTempDir('wharf-crash-');
  t.after(() => removeDir(dataDir));
  const rx = await startReceiver(t);
  const first = await startWharf({ config: webhookTestConfig, env: adminEnv, dataDir });
  t.after(() => first.stop('SIGKILL'));
  await apiOk(first.url, 'POST', '/projects', { auth: ADMIN, body: { name: 'dev' } });
  const hook = await apiOk<{ webhook: { id: string }; secret: string }>(first.url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/crash'), events: ['push'] } });
  rx.secrets.set('/crash', hook.secret);

  // The first delivery never gets an answer: Wharf is killed while it waits.
  rx.respond = (r) => (rx.received.filter((x) => x.status === -1).length === 0 ? 'hang' : 200);
  const images: Image[] = Array.from({ length: 3 }, () => ociImage({ layers: [randomBlob(700)] }));
  for (const [i, image] of images.entries()) await pushImage(first.url, 'dev/app', `v${i}`, image, { auth: ADMIN });
  await rx.waitFor((all) => all.some((r) => r.status === -1), 20_000, 'a delivery in flight');
  const hung = rx.received.find((r) => r.status === -1)!;
  const killed = await first.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');

  rx.respond = () => 200;
  const second = await startWharfFor(t, { config: webhookTestConfig, env: adminEnv, dataDir });
  const later = ociImage({ layers: [randomBlob(700)] });
  await pushImage(second.url, 'dev/app', 'after', later, { auth: ADMIN });
  const wanted = [...images, later].map((image) => image.manifest.digest);
  await rx.waitFor((all) => wanted.every((digest) => all.some((r) => r.status === 200 && pushedDigest(r) === digest)), 60_000, 'every push event delivered');
  const retried = rx.received.filter((r) => r.delivery === hung.delivery);
  assert.deepEqual(retried.map((r) => r.status), [-1, 200], 'the delivery cut by SIGKILL was sent again after the restart');
  assert.ok(rx.received.every((r) => r.signed), 'every attempt is signed');
});

test('two instances sharing a database deliver each event once', { timeout: 120_000 }, async (t) => {
  const shared = await makeTempDir('wharf-shared-');
  t.after(() => removeDir(shared));
  const database = postgresUrl()
    ? { driver: 'postgres', postgres: { url: (await freshDatabase(t)).url } }
    : { driver: 'sqlite', sqlite: { path: path.join(shared, 'wharf.db') } };
  const config = [webhookTestConfig, { database, storage: { filesystem: { rootDirectory: path.join(shared, 'storage') } }, webhooks: { pollIntervalMs: 50 } }];
  const a = await startWharfFor(t, { config, env: adminEnv });
  const b = await startWharfFor(t, { config, env: adminEnv });
  const rx = await startReceiver(t);
  await apiOk(a.url, 'POST', '/projects', { auth: ADMIN, body: { name: 'dev' } });
  const hook = await apiOk<{ secret: string }>(b.url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/both'), events: ['push'] } });
  rx.secrets.set('/both', hook.secret);
  const images = Array.from({ length: 16 }, () => ociImage({ layers: [randomBlob(300)] }));
  await Promise.all(images.map((image, i) => pushImage((i % 2 === 0 ? a : b).url, 'dev/app', `t${i}`, image, { auth: ADMIN })));
  await rx.waitFor((all) => new Set(all.map(pushedDigest)).size === images.length, 30_000, 'all push events');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const byDelivery = new Map<string, number>();
  for (const r of rx.received) byDelivery.set(r.delivery, (byDelivery.get(r.delivery) ?? 0) + 1);
  assert.equal(byDelivery.size, images.length);
  assert.deepEqual([...new Set(byDelivery.values())], [1], 'no delivery was sent twice');
  assert.ok(rx.received.every((r) => r.signed && r.status === 200));
});
