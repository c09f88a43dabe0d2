/**
 * The SQLite file locked by another process (a writer holding BEGIN EXCLUSIVE): writes fail with
 * 503 UNAVAILABLE after the short busy timeout instead of hanging, /readyz names the database,
 * pulls (reads, WAL) keep working, and pushes succeed again once the lock is gone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { get, post, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { repoRoot } from '../fixtures/paths.js';
import { killOnExit, startWharfFor } from '../fixtures/server.js';
import { assertAlive, assertUnavailable, readiness, waitForReadiness } from './faults-support.js';

/** A process that holds the database's write lock until its stdin closes. */
async function lockDatabase(file: string): Promise<() => Promise<void>> {
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const db = new (require('better-sqlite3'))(process.argv[1]);
       db.exec('BEGIN EXCLUSIVE');
       process.stdout.write('locked\\n');
       process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
       process.stdin.resume();`,
      file,
    ],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  killOnExit(holder);
  const [line] = (await once(holder.stdout!, 'data')) as [Buffer];
  assert.equal(line.toString().trim(), 'locked');
  return async () => {
    holder.stdin!.end();
    await once(holder, 'exit');
  };
}

test('a SQLite file locked by another process: 503 for writes, readyz says database, recovery', async (t) => {
  const srv = await startWharfFor(t, { config: { database: { sqlite: { busyTimeoutMs: 300 } } } });
  await pushImage(srv.url, 'faults/sqlite', 'before', ociImage());

  const release = await lockDatabase(path.join(srv.dataDir, 'wharf.db'));
  try {
    const started = Date.now();
    assertUnavailable(await post(`${srv.url}/v2/faults/sqlite/blobs/uploads/`), 'upload start while the file is locked');
    assert.ok(Date.now() - started < 10_000, 'the write failed within a bounded time');
    const ready = await readiness(srv);
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.failing, ['database']);
    assert.equal((await get(`${srv.url}/v2/faults/sqlite/manifests/before`)).status, 200, 'pulls still read');
    assertAlive(srv);
  } finally {
    await release();
  }

  await waitForReadiness(srv, { ok: true });
  await pushImage(srv.url, 'faults/sqlite', 'after', ociImage());
  assert.equal((await get(`${srv.url}/v2/faults/sqlite/manifests/after`)).status, 200);
  assertAlive(srv);
});
