/**
 * The S3 store unreachable in the middle of a paced GC run (SQLite: the run happens in the
 * server's GC worker thread): the run ends without deleting anything referenced, the server keeps
 * serving, and once the store is back the next run finishes the job: the store ends up holding
 * exactly what the database references, and every kept image pulls and verifies.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { seedSqlite } from '../../bench/gc-data.js';
import type { GcReport } from '../../src/gc/report.js';
import { s3Driver } from '../../src/storage/s3-driver.js';
import { get, pushImage, request } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { s3SkipReason, s3TestEnv, uniquePrefix } from '../fixtures/s3.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { adminEnv, assertStoreHoldsExactlyTheReferences, startGcRun, ADMIN } from './gc-fault-support.js';
import { startTcpProxy } from '../fixtures/tcp-proxy.js';

async function finished(srv: WharfServer, id: string): Promise<GcReport> {
  for (;;) {
    const report = (await request('GET', `${srv.url}/api/v1/gc/runs/${id}`, { auth: ADMIN })).json<GcReport>();
    if (report.status !== 'running') return report;
    await sleep(100);
  }
}

test('the S3 store down during a paced GC run: nothing referenced lost, the server serves on, the next run finishes', { skip: s3SkipReason(), timeout: 180_000 }, async (t) => {
  const s3 = s3TestEnv()!;
  const endpoint = new URL(s3.endpoint);
  const proxy = await startTcpProxy({ host: endpoint.hostname, port: Number(endpoint.port) });
  t.after(() => proxy.close());
  const s3Options = { endpoint: proxy.url, accessKey: s3.accessKey, secretKey: s3.secretKey, bucket: s3.bucket, region: s3.region, forcePathStyle: true, rootDirectory: uniquePrefix('gc-outage').slice(0, -1) };
  const dir = await makeTempDir('wharf-gc-outage-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');

  // Garbage written straight to the database and the store: 200 images of 6 blobs, half untagged.
  const spec = { repositories: 10, manifests: 200, blobsPerManifest: 6, blobBytes: 64, ageMs: 2 * 86_400_000 };
  const images = await seedSqlite(dataDir, s3Driver(s3Options), spec);

  const config = { storage: { driver: 's3', s3: s3Options }, gc: { schedule: 'off', untaggedGraceHours: 0, leaseSeconds: 5, dutyCycle: 0.25 }, log: { accessLog: false } };
  const srv = await startWharf({ dataDir, config, env: adminEnv });
  t.after(() => srv.stop());
  const kept = ociImage();
  await pushImage(srv.url, 'keep/app', 'v1', kept, { auth: ADMIN });

  const sqlite = new SQLite(path.join(dataDir, 'wharf.db'), { readonly: true });
  t.after(() => sqlite.close());
  const blobRows = () => (sqlite.prepare('select count(*) as n from blobs').get() as { n: number }).n;
  const before = blobRows();
  const first = await startGcRun(srv);
  // Take the store away once the run is deleting blobs: some garbage gone, most still there.
  for (let i = 0; i < 4000 && blobRows() === before; i++) await sleep(5);
  await proxy.down();
  const deletedBeforeOutage = before - blobRows();
  assert.ok(deletedBeforeOutage > 0, 'the run had started deleting');
  const cut = await finished(srv, first.id);
  t.diagnostic(`store down after ${deletedBeforeOutage} of ${before} rows; the run ended ${cut.status} with ${cut.failed} failed deletions`);
  assert.ok(cut.status === 'failed' || cut.failed > 0, `the run reports the outage: ${JSON.stringify(cut)}`);
  // The server answers meanwhile: manifests come from the database.
  assert.equal((await get(`${srv.url}/v2/keep/app/manifests/v1`, { auth: ADMIN, headers: { accept: kept.manifest.mediaType } })).status, 200);

  await proxy.up();
  const second = await finished(srv, (await startGcRun(srv)).id);
  assert.equal(second.status, 'finished', JSON.stringify(second));
  assert.equal(second.failed, 0);
  assert.ok(second.blobs > 0, 'the second run deleted what the first left');

  // Everything referenced is there and verifies; nothing unreferenced is left.
  await assertStoreHoldsExactlyTheReferences(srv, {
    kept,
    keptRepository: 'keep/app',
    images,
    referenced: new Set((sqlite.prepare('select digest from repository_blobs union select digest from manifests').all() as Array<{ digest: string }>).map((r) => r.digest)),
    live: (sqlite.prepare("select count(*) as n from blobs where state = 'live'").get() as { n: number }).n,
  });
});
