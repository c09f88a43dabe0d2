/**
 * PostgreSQL stopped under a running Wharf (a fast shutdown: every backend is told "terminating
 * connection due to administrator command", idle pooled connections included) and started again:
 * the instance stays up, answers 503 UNAVAILABLE and /readyz names the database while it is down,
 * and serves again by itself once it is back. And stopped while manifests are pushed: every PUT
 * is stored whole or refused with 503, and the refused ones go through once it is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, post, pushImage, pushManifest } from '../fixtures/http.js';
import { doc, ociImage, sha256 } from '../fixtures/images.js';
import { postgresSkipReason, privatePostgres } from '../fixtures/postgres.js';
import { startWharfFor } from '../fixtures/server.js';
import { assertAlive, assertUnavailable, readiness, waitForReadiness } from './faults-support.js';

test('a PostgreSQL restart: 503 while it is down, no exit, recovery without a restart', { skip: postgresSkipReason() }, async (t) => {
  const pg = await privatePostgres(t);
  const srv = await startWharfFor(t, { config: { database: { driver: 'postgres', postgres: { url: pg.url, poolSize: 4, connectTimeoutMs: 2000 } } } });
  const before = ociImage();
  await pushImage(srv.url, 'faults/pg', 'before', before);
  // Several requests at once leave several idle connections in the pool: each gets the shutdown.
  await Promise.all(Array.from({ length: 6 }, () => get(`${srv.url}/v2/faults/pg/manifests/before`)));

  await pg.stop();
  await waitForReadiness(srv, { failing: 'database' });
  const ready = await readiness(srv);
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.failing, ['database']);
  assert.ok(ready.ms < 10_000, `readyz answered in ${ready.ms} ms`);
  assertUnavailable(await get(`${srv.url}/v2/faults/pg/manifests/before`), 'manifest GET while the database is down');
  assertUnavailable(await post(`${srv.url}/v2/faults/pg/blobs/uploads/`), 'upload start while the database is down');
  assertAlive(srv);

  await pg.resume();
  await waitForReadiness(srv, { ok: true });
  assert.equal((await get(`${srv.url}/v2/faults/pg/manifests/before`)).status, 200, 'the image pushed before is served again');
  const after = ociImage();
  await pushImage(srv.url, 'faults/pg', 'after', after);
  assert.equal((await get(`${srv.url}/v2/faults/pg/manifests/after`)).status, 200);
  assertAlive(srv);
  assert.match(srv.logs(), /database connection lost/);
});

test('PostgreSQL stopped while manifests are pushed: each PUT is stored or refused with 503, none half-visible; after the restart every stored one pulls and the refused ones go through', { skip: postgresSkipReason() }, async (t) => {
  const pg = await privatePostgres(t);
  const srv = await startWharfFor(t, { config: { database: { driver: 'postgres', postgres: { url: pg.url, poolSize: 4, connectTimeoutMs: 2000 } } } });
  const base = ociImage();
  await pushImage(srv.url, 'faults/put', 'base', base);
  // Distinct manifests over the same blobs; on the filesystem store their bytes are staged and
  // placed during the transaction when it is the only one open (src/registry/manifests.ts).
  const manifestFor = (n: number) => doc(base.manifest.mediaType, { ...base.manifest.json, annotations: { n: String(n) } });
  const outcomes = new Map<number, number>();
  let next = 0;
  let stopped = false;
  const clients = Array.from({ length: 2 }, async () => {
    while (!stopped) {
      const n = next++;
      outcomes.set(n, (await pushManifest(srv.url, 'faults/put', `t${n}`, manifestFor(n))).status);
    }
  });
  for (let waited = 0; outcomes.size < 50 && waited < 20_000; waited += 20) await sleep(20);
  await pg.stop();
  await waitForReadiness(srv, { failing: 'database' });
  await sleep(500);
  stopped = true;
  await Promise.all(clients);
  const statuses = [...new Set(outcomes.values())].sort();
  assert.deepEqual(statuses, [201, 503], `PUT answers while the database went away: ${JSON.stringify(statuses)}`);
  assertAlive(srv);

  await pg.resume();
  await waitForReadiness(srv, { ok: true });
  const accept = { accept: base.manifest.mediaType };
  for (const [n, status] of outcomes) {
    const pulled = await get(`${srv.url}/v2/faults/put/manifests/t${n}`, { headers: accept });
    if (status === 201) assert.equal(sha256(pulled.body), manifestFor(n).digest, `stored t${n} pulls with its bytes`);
    else if (pulled.status === 200) assert.equal(sha256(pulled.body), manifestFor(n).digest, `t${n} is whole if its commit landed before the answer was lost`);
    else assert.equal(pulled.status, 404, `refused t${n} is absent, not broken`);
  }
  const listed = (await get(`${srv.url}/v2/faults/put/tags/list?n=10000`)).json() as { tags: string[] };
  for (const tag of listed.tags) assert.equal((await get(`${srv.url}/v2/faults/put/manifests/${tag}`, { headers: accept })).status, 200, `${tag} is listed and pulls`);
  for (const [n, status] of outcomes) {
    if (status !== 201) assert.equal((await pushManifest(srv.url, 'faults/put', `t${n}`, manifestFor(n))).status, 201, `t${n} goes through on retry`);
  }
  assertAlive(srv);
});
