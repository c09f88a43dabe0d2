/**
 * PostgreSQL stopped in the middle of a paced GC run (a fast shutdown: every connection is cut),
 * then started again: the server stays up, the run ends without deleting anything referenced, the
 * next run finishes the job, and the store ends up holding exactly what the database references.
 * On PostgreSQL the run happens on the server's own thread, with the server's pool.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import pg from 'pg';
import { seedDatabase } from '../../bench/gc-data.js';
import type { GcReport } from '../../src/gc/report.js';
import { filesystemDriver } from '../../src/storage/fs-driver.js';
import { pushImage, request } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { postgresSkipReason, privatePostgres } from '../fixtures/postgres.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { adminEnv, assertStoreHoldsExactlyTheReferences, requestGcRun, startGcRun, ADMIN } from './gc-fault-support.js';
import { assertAlive, waitForReadiness } from '../integration/faults-support.js';

/** The run's stored report once it no longer says `running` (answers may be 503 while the database is down). */
async function ended(srv: WharfServer, id: string, timeoutMs = 90_000): Promise<GcReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await request('GET', `${srv.url}/api/v1/gc/runs/${id}`, { auth: ADMIN });
    if (response.status === 200) {
      const report = response.json<GcReport>();
      if (report.status !== 'running') return report;
    }
    if (Date.now() > deadline) throw new Error(`run ${id} still not ended after ${timeoutMs} ms (last answer ${response.status} ${response.text().slice(0, 300)})`);
    await sleep(100);
  }
}

/** One query on a connection of its own: the test's view of the database, unaffected by the server's pool. */
async function query<Row>(url: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Row[];
  } finally {
    await client.end();
  }
}

test('PostgreSQL stopped during a paced GC run: the server stays up, nothing referenced is lost, the next run finishes', { skip: postgresSkipReason(), timeout: 240_000 }, async (t) => {
  const postgres = await privatePostgres(t);
  const dir = await makeTempDir('wharf-gc-pg-outage-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');
  const storageRoot = path.join(dataDir, 'storage');

  // Garbage written straight to the database and the store: 200 images of 6 blobs, half untagged.
  const spec = { repositories: 10, manifests: 200, blobsPerManifest: 6, blobBytes: 64, ageMs: 2 * 86_400_000 };
  const images = await seedDatabase({ driver: 'postgres', url: postgres.url, poolSize: 2 }, filesystemDriver(storageRoot), spec);

  const config = {
    database: { driver: 'postgres', postgres: { url: postgres.url, poolSize: 4, connectTimeoutMs: 2000 } },
    storage: { driver: 'filesystem', filesystem: { rootDirectory: storageRoot } },
    gc: { schedule: 'off', untaggedGraceHours: 0, leaseSeconds: 5, dutyCycle: 0.1 },
    log: { accessLog: false },
  };
  const srv = await startWharf({ dataDir, config, env: adminEnv });
  t.after(() => srv.stop());
  const kept = ociImage();
  await pushImage(srv.url, 'keep/app', 'v1', kept, { auth: ADMIN });

  const blobRows = async () => Number((await query<{ n: string }>(postgres.url, 'select count(*) as n from blobs'))[0]!.n);
  const before = await blobRows();
  const first = await startGcRun(srv);
  // Stop the database once the run is deleting: some garbage gone, most still there.
  let rows = before;
  for (let i = 0; i < 3000 && rows === before; i++) {
    await sleep(10);
    rows = await blobRows();
  }
  await postgres.stop();
  const deletedBeforeOutage = before - rows;
  assert.ok(deletedBeforeOutage > 0, 'the run had started deleting');

  // Down for a while: the run's statements fail, the server answers (503) and does not exit.
  await waitForReadiness(srv, { failing: 'database' });
  await sleep(2000);
  assertAlive(srv);

  await postgres.resume();
  await waitForReadiness(srv, { ok: true });

  // The lease of the cut run expires (5 s); the next run starts, finishes and deletes the rest.
  let second: GcReport | undefined;
  for (let i = 0; i < 200 && !second; i++) {
    const started = await requestGcRun(srv);
    if (started.status === 202) second = started.json<GcReport>();
    else await sleep(100);
  }
  assert.ok(second, 'a second run started once the first one’s lease expired');
  const done = await ended(srv, second.id);
  assert.equal(done.status, 'finished', JSON.stringify(done));
  assert.equal(done.failed, 0);
  assert.ok(done.blobs > 0, 'the second run deleted what the first left');
  // The cut run could not store its end; the second marked it interrupted when it started.
  const cut = await ended(srv, first.id);
  t.diagnostic(`database down after ${deletedBeforeOutage} of ${before} rows; the cut run is ${cut.status}${cut.error ? `: ${cut.error}` : ''}`);
  assert.ok(cut.status === 'interrupted' || cut.status === 'failed', `the cut run: ${JSON.stringify(cut)}`);
  assertAlive(srv);
  assert.match(srv.logs(), /gc run ended without storing its report|gc failed/);

  // Everything referenced is there and verifies; nothing unreferenced is left.
  await assertStoreHoldsExactlyTheReferences(srv, {
    kept,
    keptRepository: 'keep/app',
    images,
    referenced: new Set((await query<{ digest: string }>(postgres.url, 'select digest from repository_blobs union select digest from manifests')).map((r) => r.digest)),
    live: Number((await query<{ n: string }>(postgres.url, "select count(*) as n from blobs where state = 'live'"))[0]!.n),
  });
});
