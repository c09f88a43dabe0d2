/**
 * kill -9 of a Wharf process in the middle of a GC run: nothing referenced is lost (images
 * pushed with skopeo pull and verify), the run is recorded as interrupted, and the next run —
 * once the dead holder's lease has expired — finishes the job: the store ends up holding exactly
 * what the database references. And a graceful stop (SIGTERM) in the middle of a run: the run
 * stops at its next step, records itself as interrupted and lets the lease go, and the server
 * exits at once instead of waiting for the run to end.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { seedSqlite } from '../../bench/gc-data.js';
import type { GcReport } from '../../src/gc/report.js';
import { STOPPED_AT_SHUTDOWN } from '../../src/gc/runner.js';
import { filesystemDriver } from '../../src/storage/fs-driver.js';
import { createClientEnv, missingClients } from '../fixtures/clients.js';
import { request } from '../fixtures/http.js';
import { makeTestImages } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf, storageKeys } from '../fixtures/server.js';
import { ADMIN, adminEnv, requestGcRun } from './gc-fault-support.js';

const LEASE_SECONDS = 5;

describe('kill -9 or SIGTERM during GC', { skip: missingClients('skopeo') }, () => {
  // Also paced (gc.dutyCycle below 1: small steps, rests between them, docs/gc.md).
  const cases = [
    { signal: 'SIGKILL', dutyCycle: 1 },
    { signal: 'SIGKILL', dutyCycle: 0.25 },
    { signal: 'SIGTERM', dutyCycle: 0.25 },
  ] as const;
  for (const { signal, dutyCycle } of cases) {
    test(`${signal}: loses nothing referenced; the next run finishes the job${dutyCycle < 1 ? ` (gc.dutyCycle ${dutyCycle})` : ''}`, { timeout: 180_000 }, async (t) => {
      const dir = await makeTempDir('wharf-gc-kill-');
      t.after(() => removeDir(dir));
      const dataDir = path.join(dir, 'data');
      // Plenty of garbage, written straight to the database and the store: 400 images of 8 blobs,
      // half of them untagged.
      const spec = { repositories: 10, manifests: 400, blobsPerManifest: 8, blobBytes: 64, ageMs: 2 * 86_400_000 };
      const images = await seedSqlite(dataDir, filesystemDriver(path.join(dataDir, 'storage')), spec);

      const config = { gc: { schedule: 'off', untaggedGraceHours: 0, leaseSeconds: LEASE_SECONDS, dutyCycle }, log: { accessLog: false } };
      const first = await startWharf({ dataDir, config, env: adminEnv });
      t.after(() => first.stop());
      const c = await createClientEnv({ registries: [first.host] });
      t.after(() => c.cleanup());
      const layout = await makeTestImages(path.join(dir, 'layout'), 4096);
      await c.skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${first.host}/keep/multi:v1`]);
      await c.skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:amd64`, `docker://${first.host}/keep/app:v1`]);

      const sqlite = new SQLite(path.join(dataDir, 'wharf.db'), { readonly: true });
      t.after(() => sqlite.close());
      const blobRows = () => (sqlite.prepare('select count(*) as n from blobs').get() as { n: number }).n;
      const before = blobRows();
      assert.equal((await requestGcRun(first)).status, 202);
      // Kill it once it is deleting: some garbage gone, most still there.
      for (let i = 0; i < 2000 && blobRows() === before; i++) await sleep(5);
      const signalledAt = Date.now();
      first.process.kill(signal);
      const exit = await first.exited;
      const left = blobRows();
      assert.ok(left < before, 'the run had started deleting');
      t.diagnostic(`${signal} with ${before - left} of ${before} rows deleted; the process exited after ${Date.now() - signalledAt} ms`);
      if (signal === 'SIGTERM') {
        // Stopped at its next step, not run to the end (a paced run has seconds of work left).
        assert.ok(left > before / 2, `the run stopped early: ${before - left} of ${before} rows deleted`);
        assert.ok(Date.now() - signalledAt < 5_000, 'the server exited without waiting for the run');
        assert.equal(exit.code, 0, 'a clean exit');
      }

      const second = await startWharf({ dataDir, config, env: adminEnv, port: first.port });
      t.after(() => second.stop());
      // Until the dead holder's lease expires, a new run is refused; then it goes. A run stopped
      // by SIGTERM let its lease go: the next one starts at once.
      let started = await requestGcRun(second);
      if (signal === 'SIGTERM') assert.equal(started.status, 202, started.text());
      for (let i = 0; started.status === 409 && i < 100; i++) {
        await sleep(200);
        started = await requestGcRun(second);
      }
      assert.equal(started.status, 202, started.text());
      let report = started.json<GcReport>();
      while (report.status === 'running') {
        await sleep(100);
        report = (await request('GET', `${second.url}/api/v1/gc/runs/${report.id}`, { auth: ADMIN })).json<GcReport>();
      }
      assert.equal(report.status, 'finished');
      assert.ok(report.blobs > 0, 'the second run deleted what the first left');
      const after = (await request('GET', `${second.url}/api/v1/gc/runs`, { auth: ADMIN })).json<{ runs: GcReport[] }>();
      assert.deepEqual(after.runs.map((r) => r.status), ['finished', 'interrupted']);
      if (signal === 'SIGTERM') assert.equal(after.runs[1]!.error, STOPPED_AT_SHUTDOWN, 'the stopped run recorded itself');

      // Everything referenced is there and pulls; nothing unreferenced is left.
      for (const ref of ['keep/multi:v1', 'keep/app:v1']) {
        await c.skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${second.host}/${ref}`, `dir:${path.join(dir, ref.replace(/[/:]/g, '-'))}`]);
      }
      const tagged = images.filter((i) => i.tag !== null);
      for (const image of tagged.slice(0, 20)) {
        const got = await request('GET', `${second.url}/v2/${image.repository}/manifests/${image.tag}`, { headers: { accept: image.mediaType } });
        assert.equal(got.status, 200);
        for (const blob of image.blobs) assert.equal((await request('HEAD', `${second.url}/v2/${image.repository}/blobs/${blob.digest}`)).status, 200);
      }
      const referenced = new Set((sqlite.prepare('select digest from repository_blobs union select digest from manifests').all() as Array<{ digest: string }>).map((r) => r.digest));
      const stored = new Set((await storageKeys(second, 'blobs/')).map((key) => `sha256:${key.split('/').pop()}`));
      assert.deepEqual([...referenced].filter((d) => !stored.has(d)), [], 'nothing referenced is missing');
      assert.deepEqual([...stored].filter((d) => !referenced.has(d)), [], 'nothing unreferenced is left');
      assert.equal(referenced.size, (sqlite.prepare("select count(*) as n from blobs where state = 'live'").get() as { n: number }).n);
    });
  }
});
