/**
 * The SQLite background writer's worker thread stops while idle (park) and starts again for the
 * next write: the thread really ends, nothing written is lost, a park with work in flight is
 * refused, checkpoints and close still work after a park, and a worker that cannot start leaves
 * the writes inline only until a later one starts.
 */
import assert from 'node:assert/strict';
import { readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { startBackgroundWriter } from '../../src/metadata/background-writer.js';
import { openDatabase } from '../../src/metadata/database.js';
import { makeTempDir } from '../fixtures/paths.js';

const threads = () => readdirSync('/proc/self/task').length;

async function openWriter(t: { after(fn: () => unknown): void }, retryAfterMs?: number) {
  const dir = await makeTempDir('background-');
  const file = path.join(dir, 'wharf.db');
  const db = await openDatabase({ driver: 'sqlite', path: file });
  await sql`create table noted (n integer primary key)`.execute(db);
  const errors: unknown[] = [];
  const writer = await startBackgroundWriter(db, { sqlitePath: file, onError: (error) => errors.push(error), ...(retryAfterMs ? { retryAfterMs } : {}) });
  t.after(async () => {
    await writer.close();
    await db.destroy();
  });
  const note = (n: number) => writer.write([{ sql: 'insert into noted (n) values (?)', parameters: [n] }]);
  const noted = async () => (await sql<{ n: number }>`select n from noted order by n`.execute(db)).rows.map((r) => r.n);
  return { dir, writer, note, noted, errors };
}

test('a parked writer ends its thread and starts another for the next write; nothing written is lost', async (t) => {
  const { writer, note, noted, errors } = await openWriter(t);
  await note(1);
  const running = threads();

  assert.equal(await writer.park(), true);
  assert.ok(threads() < running, `the worker thread still runs: ${threads()} threads, ${running} before the park`);
  assert.equal(await writer.park(), false, 'nothing left to park');

  await note(2);
  assert.equal(threads(), running, 'the next write started one worker thread');
  assert.deepEqual(await noted(), [1, 2]);
  // The writes went through the worker, not inline: a checkpoint answers with the WAL's figures.
  const checkpoint = await writer.checkpoint('PASSIVE');
  assert.ok(checkpoint && checkpoint.walFrames >= 0, JSON.stringify(checkpoint));

  assert.equal(await writer.park(), true);
  // A checkpoint alone starts the worker again, too.
  assert.ok(await writer.checkpoint('TRUNCATE'));
  assert.equal(threads(), running);
  assert.deepEqual(errors, []);
});

test('a park asked while writes are in flight leaves the worker running, and every write lands', async (t) => {
  const { writer, note, noted, errors } = await openWriter(t);
  const writes = Array.from({ length: 50 }, (_, i) => note(i));
  assert.equal(await writer.park(), false, 'the worker owed answers, so it stays');
  await Promise.all(writes);
  assert.equal((await noted()).length, 50);

  // Parked, then many writes at once: one new worker, not one each.
  const running = threads();
  assert.equal(await writer.park(), true);
  await Promise.all(Array.from({ length: 20 }, (_, i) => note(100 + i)));
  assert.equal(threads(), running);
  assert.equal((await noted()).length, 70);
  assert.deepEqual(errors, []);
});

test('close after a park ends cleanly, and the writer asks nothing of a stopped worker', async (t) => {
  const { writer, note, errors } = await openWriter(t);
  await note(1);
  assert.equal(await writer.park(), true);
  const before = threads();
  await writer.close();
  assert.equal(threads(), before, 'close started no worker');
  assert.equal(await writer.park(), false);
  assert.deepEqual(errors, []);
});

test('a worker that cannot start again leaves the writes inline, and a later write starts one once it can', async (t) => {
  const { dir, writer, note, noted, errors } = await openWriter(t, 200);
  await note(1);
  const running = threads();
  assert.equal(await writer.park(), true);
  const parked = threads();

  // The file's directory is gone from its path: the main connection keeps its open file, a new
  // worker cannot open one.
  renameSync(dir, `${dir}-away`);
  try {
    await note(2);
    assert.equal(errors.length, 1, 'the failed start is reported once');
    assert.equal(threads(), parked, 'no worker runs');
    await note(3);
    assert.equal(errors.length, 1, 'within retryAfterMs the writes stay inline without another try');
  } finally {
    renameSync(`${dir}-away`, dir);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
  await note(4);
  assert.equal(threads(), running, 'a new worker started');
  assert.ok(await writer.checkpoint('PASSIVE'), 'and it answers');
  assert.deepEqual(await noted(), [1, 2, 3, 4], 'nothing written was lost');
  assert.equal(errors.length, 1);
});
