/**
 * GroupSync (src/metadata/group-sync.ts): writers share flushes, and nobody is answered by a
 * flush that started before they asked. fileFlush keeps one descriptor for all its fsyncs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileFlush, GroupSync } from '../../src/metadata/group-sync.js';

/** A flush the test finishes by hand; `started` counts flushes begun. */
function manualFlush() {
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  return {
    pending,
    flush: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
    finish(index: number, error?: Error) {
      const entry = pending[index]!;
      if (error) entry.reject(error);
      else entry.resolve();
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('one writer: one flush, answered when it ends', async () => {
  const disk = manualFlush();
  const sync = new GroupSync(disk.flush);
  let done = false;
  const waiting = sync.sync().then(() => (done = true));
  await tick();
  assert.equal(disk.pending.length, 1);
  assert.equal(done, false, 'not before the flush ends');
  disk.finish(0);
  await waiting;
  assert.equal(done, true);
});

test('writers during a flush wait for the next one, which they all share', async () => {
  const disk = manualFlush();
  const observed: number[] = [];
  const sync = new GroupSync(disk.flush, (_seconds, writers) => observed.push(writers));
  const first = sync.sync();
  const answered: number[] = [];
  const later = Array.from({ length: 5 }, (_, i) => sync.sync().then(() => answered.push(i)));
  await tick();
  assert.equal(disk.pending.length, 1, 'the later writers do not start a flush of their own');
  disk.finish(0);
  await first;
  await tick();
  assert.deepEqual(answered, [], 'the flush that started before them does not answer them');
  assert.equal(disk.pending.length, 2, 'one more flush, for all five');
  disk.finish(1);
  await Promise.all(later);
  assert.deepEqual(answered.sort(), [0, 1, 2, 3, 4]);
  assert.deepEqual(observed, [1, 5]);
});

test('a failed flush fails its writers; the next writer starts a fresh one', async () => {
  const disk = manualFlush();
  const sync = new GroupSync(disk.flush);
  const a = sync.sync();
  const b = sync.sync();
  await tick();
  disk.finish(0, new Error('EIO'));
  await assert.rejects(a, /EIO/);
  await tick();
  assert.equal(disk.pending.length, 2, 'b waits for a flush of its own, not the failed one');
  disk.finish(1);
  await b;
  const c = sync.sync();
  await tick();
  assert.equal(disk.pending.length, 3);
  disk.finish(2);
  await c;
});

test('fileFlush: nothing to do before the file exists; then one descriptor for every flush, let go by close', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-flush-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'db-wal');
  const descriptorsOf = async () => {
    const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return links.filter((target) => target === file).length;
  };
  const wal = fileFlush(file);
  await wal.flush();
  assert.equal(await descriptorsOf(), 0, 'a missing file is not created or held');
  await writeFile(file, 'frames');
  await Promise.all([wal.flush(), wal.flush()]);
  await wal.flush();
  assert.equal(await descriptorsOf(), 1, 'opened once, kept');
  await wal.close();
  assert.equal(await descriptorsOf(), 0);
  await wal.flush();
  assert.equal(await descriptorsOf(), 1, 'a flush after close opens it again');
  await wal.close();
});
