/**
 * SQLite's group commit (src/metadata/sqlite-group-commit.ts): a write answers only after an
 * fsync of the WAL that started after its commit, seen at the system-call level with strace;
 * concurrent writers share fsyncs; relaxed transactions and reads do not wait for one. And the
 * store counts the transactions open on the connection (a manifest PUT overlaps its bytes with
 * its transaction only when it holds up nobody).
 */
import assert from 'node:assert/strict';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { openDatabase, type Db } from '../../src/metadata/database.js';
import { relaxedTransaction } from '../../src/metadata/dialect.js';
import { leaseStore } from '../../src/metadata/leases.js';
import { metadataStore } from '../../src/metadata/store.js';
import { makeTempDir } from '../fixtures/paths.js';
import { markerLine, noStrace, traceScript } from '../fixtures/strace.js';

async function openCounted(t: { after(fn: () => unknown): void }): Promise<{ db: Db; file: string; flushes: number[] }> {
  const file = path.join(await makeTempDir('group-commit-'), 'wharf.db');
  const flushes: number[] = [];
  const db = await openDatabase({ driver: 'sqlite', path: file, observeSync: (_seconds, writers) => flushes.push(writers) });
  t.after(() => db.destroy());
  flushes.length = 0; // the migrations' own
  return { db, file, flushes };
}

test('concurrent writers share WAL fsyncs, and each answers after one', async (t) => {
  const { db, file, flushes } = await openCounted(t);
  const writers = 32;
  await Promise.all(Array.from({ length: writers }, (_, i) => db.transaction().execute((trx) => leaseStore(trx).acquire(`lease-${i}`, 'a', 60_000, 1_000))));
  assert.equal(
    flushes.reduce((sum, n) => sum + n, 0),
    writers,
    'every writer was answered by a flush',
  );
  assert.ok(flushes.length < writers, `writers shared fsyncs: ${flushes.length} for ${writers}`);
  // Another connection (another process would do the same) sees all of them.
  const other = new SQLite(file, { readonly: true });
  t.after(() => other.close());
  assert.equal((other.prepare(`select count(*) as n from leases where name like 'lease-%'`).get() as { n: number }).n, writers);
});

test('reads and relaxed transactions do not wait for a flush, nor does a read after a relaxed commit; the next durable write flushes', async (t) => {
  const { db, flushes } = await openCounted(t);
  await leaseStore(db).get('x');
  await relaxedTransaction(db, (trx) => leaseStore(trx).acquire('reserve', 'a', 60_000, 1_000));
  assert.deepEqual(flushes, [], 'no flush for a read or a relaxed commit');
  assert.equal((await leaseStore(db).get('reserve'))?.holder, 'a');
  assert.deepEqual(flushes, [], 'nor for a read after a relaxed commit (the first durable flush covers its frames)');
  await leaseStore(db).acquire('other', 'a', 60_000, 1_000); // a write outside any transaction
  assert.deepEqual(flushes, [1]);
  await db.transaction().execute(async (trx) => leaseStore(trx).get('x'));
  assert.deepEqual(flushes, [1], 'a transaction that wrote nothing does not flush');
});


test('strace: the commit, then an fsync of the WAL, then the answer', { skip: noStrace }, async (t) => {
  // strace names files by their real path.
  const dir = await realpath(await makeTempDir('group-commit-strace-'));
  const file = path.join(dir, 'wharf.db');
  const modules = (name: string) => fileURLToPath(new URL(`../../src/metadata/${name}.js`, import.meta.url));
  // Opens the database (migrations first), then: a relaxed commit, a marker, a durable commit, a marker.
  const script = `
    const { openDatabase } = await import(${JSON.stringify(modules('database'))});
    const { relaxedTransaction } = await import(${JSON.stringify(modules('dialect'))});
    const { leaseStore } = await import(${JSON.stringify(modules('leases'))});
    const db = await openDatabase({ driver: 'sqlite', path: ${JSON.stringify(file)} });
    process.stdout.write('OPENED\\n');
    await relaxedTransaction(db, (trx) => leaseStore(trx).acquire('relaxed', 'a', 60000, 1000));
    process.stdout.write('RELAXED\\n');
    await db.transaction().execute((trx) => leaseStore(trx).acquire('durable', 'a', 60000, 1000));
    process.stdout.write('DURABLE\\n');
    await db.destroy();
  `;
  const lines = await traceScript(t, dir, ['pwrite64', 'fsync', 'fdatasync'], script);
  const marker = (text: string) => markerLine(lines, text);
  const wal = `${file}-wal>`;
  const walWrite = (line: string) => /\b(pwrite64|write)\(/.test(line) && line.includes(wal);
  const walSync = (line: string) => /\b(fsync|fdatasync)\(/.test(line) && line.includes(wal);
  const [opened, relaxed, durable] = [marker('OPENED'), marker('RELAXED'), marker('DURABLE')];
  assert.ok(opened >= 0 && relaxed > opened && durable > relaxed, 'all three markers traced in order');

  const relaxedSpan = lines.slice(opened, relaxed);
  assert.ok(relaxedSpan.some(walWrite), 'the relaxed commit wrote its WAL frames');
  assert.ok(!relaxedSpan.some(walSync), 'and answered without an fsync');

  const durableSpan = lines.slice(relaxed, durable);
  const lastFrame = durableSpan.findLastIndex(walWrite);
  assert.ok(lastFrame >= 0, 'the durable commit wrote its WAL frames');
  assert.ok(
    durableSpan.slice(lastFrame).some(walSync),
    `an fsync of the WAL between its last frame and the answer:\n${durableSpan.slice(lastFrame).join('\n')}`,
  );
});

test('openTransactions counts transactions running or queued for the connection, relaxed ones too, and none once they end', async (t) => {
  const { db } = await openCounted(t);
  const store = metadataStore(db);
  assert.equal(store.openTransactions(), 0);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const first = store.transaction(async (tx) => {
    await tx.leases.acquire('held', 'a', 60_000, 1_000);
    await held;
  });
  const queued = store.transaction((tx) => tx.leases.acquire('queued', 'a', 60_000, 1_000), { relaxed: true });
  assert.equal(store.openTransactions(), 2, 'one holding the connection, one waiting for it');
  release();
  await Promise.all([first, queued]);
  assert.equal(store.openTransactions(), 0);
  await assert.rejects(store.transaction(async () => Promise.reject(new Error('refused'))), /refused/);
  assert.equal(store.openTransactions(), 0, 'a failed transaction ends too');
});
