/**
 * PostgreSQL stopped under a running Wharf (a fast shutdown: every backend is told "terminating
 * connection due to administrator command", idle pooled connections included) and started again:
 * the instance stays up, answers 503 UNAVAILABLE and /readyz names the database while it is down,
 * and serves again by itself once it is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, post, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
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
