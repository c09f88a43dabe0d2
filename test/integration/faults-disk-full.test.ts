/**
 * The filesystem driver on a full disk (a small tmpfs this test mounts in its own directory, as
 * root): a push fails with 503 UNAVAILABLE, nothing of it becomes visible, /readyz names storage,
 * and once space is freed the same push succeeds without a restart.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { get, head, patch, post, pushBlob, put, type Response } from '../fixtures/http.js';
import { randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor } from '../fixtures/server.js';
import { assertAlive, assertUnavailable, readiness, waitForReadiness } from './faults-support.js';

const execFileAsync = promisify(execFile);

/** Mounts a `sizeMiB` tmpfs at a new directory of the test's own; undefined when mounting is not allowed. */
async function smallFilesystem(t: { after(fn: () => unknown): void }, sizeMiB: number): Promise<string | undefined> {
  const dir = await makeTempDir('wharf-full-');
  const mountPoint = path.join(dir, 'mnt');
  try {
    await execFileAsync('mkdir', [mountPoint]);
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'wharf-test-full', mountPoint]);
  } catch {
    await removeDir(dir);
    return undefined;
  }
  t.after(async () => {
    // Lazy: the server may still hold a file open while it stops.
    await execFileAsync('umount', ['-l', mountPoint]).catch(() => undefined);
    await removeDir(dir);
  });
  return mountPoint;
}

/** Writes zeros into `file` until the filesystem says ENOSPC. */
async function fill(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
}

/** The push steps a client takes, stopping at the first answer that is not a success. */
async function tryPush(url: string, repo: string, digest: string, bytes: Buffer): Promise<Response> {
  const start = await post(`${url}/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) return start;
  const sent = await patch(new URL(String(start.headers.location), url), { headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  if (sent.status !== 202) return sent;
  const done = new URL(String(sent.headers.location), url);
  done.searchParams.set('digest', digest);
  return put(done);
}

test('a full disk under the filesystem driver: 503, nothing visible, recovery once space is freed', async (t) => {
  const mountPoint = await smallFilesystem(t, 4);
  if (!mountPoint) return t.skip('cannot mount a tmpfs here (needs root)');
  const srv = await startWharfFor(t, { config: { storage: { driver: 'filesystem', filesystem: { rootDirectory: path.join(mountPoint, 'storage') } } } });
  const filler = path.join(mountPoint, 'filler');
  await fill(filler);

  const bytes = randomBlob(512 * 1024);
  const digest = sha256(bytes);
  assertUnavailable(await tryPush(srv.url, 'faults/full', digest, bytes), 'a push on a full disk');
  assert.equal((await head(`${srv.url}/v2/faults/full/blobs/${digest}`)).status, 404, 'nothing half-written is visible');
  const ready = await readiness(srv);
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.failing, ['storage']);
  assertAlive(srv);

  await rm(filler);
  await waitForReadiness(srv, { ok: true });
  assert.equal((await pushBlob(srv.url, 'faults/full', digest, bytes)).status, 201);
  const pulled = await get(`${srv.url}/v2/faults/full/blobs/${digest}`);
  assert.equal(pulled.status, 200);
  assert.equal(sha256(pulled.body), digest);
  assertAlive(srv);
});
