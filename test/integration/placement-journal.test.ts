/**
 * The manifest placement journal (src/registry/placement-journal.ts): on the filesystem store a
 * manifest PUT answers after one flush, the database commit that also journals its bytes; the
 * file and its directory are fsynced just after, and the entry dropped. A start after a crash
 * rewrites, before it serves, the journaled manifests the database still holds (SQLite and
 * PostgreSQL) — the state a power loss leaves (a journal entry, its file gone) is made by hand
 * here, as it cannot be cut.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/metadata/database.js';
import { metadataStore } from '../../src/metadata/store.js';
import { placementJournal } from '../../src/registry/placement-journal.js';
import { digestOf } from '../../src/oci/digest.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { freshDatabase, postgresSkipReason, withClient } from '../fixtures/postgres.js';
import { markerLine, noStrace, traceScript } from '../fixtures/strace.js';
import { ociImage } from '../fixtures/images.js';
import { harness } from './gc-harness.js';

const INDEX = 'application/vnd.oci.image.index.v1+json';
/** An image index that references nothing: a manifest with no blobs to push first. */
const indexBody = (n: string) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [], annotations: { n } }));
const fileOf = (dataDir: string, body: Buffer) => {
  const hex = digestOf(body, 'sha256').value.slice('sha256:'.length);
  return path.join(dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
};

test('strace: a manifest PUT answers after the WAL fsync only; its file and directory are fsynced just after, then the entry goes', { skip: noStrace }, async (t) => {
  const dataDir = await realpath(await makeTempDir('wharf-journal-strace-'));
  t.after(() => removeDir(dataDir));
  const body = indexBody('strace');
  const module = (relative: string) => JSON.stringify(fileURLToPath(new URL(relative, import.meta.url)));
  const script = `
    const { buildApp } = await import(${module('../../src/app.js')});
    const { loadConfig } = await import(${module('../../src/config/index.js')});
    const { default: pino } = await import(${JSON.stringify(import.meta.resolve('pino'))});
    const app = await buildApp(loadConfig({ env: {}, overrides: { dataDirectory: ${JSON.stringify(dataDir)} } }), pino({ level: 'silent' }));
    await app.http.ready();
    process.stdout.write('READY\\n');
    const response = await app.http.inject({ method: 'PUT', url: '/v2/journal/app/manifests/v1', headers: { 'content-type': '${INDEX}' }, payload: Buffer.from(${JSON.stringify(body.toString('base64'))}, 'base64') });
    process.stdout.write('ANSWERED ' + response.statusCode + '\\n');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    process.stdout.write('WAITED\\n');
    await app.close();
  `;
  const lines = await traceScript(t, dataDir, ['openat', 'rename', 'renameat', 'renameat2', 'fsync', 'fdatasync'], script);
  const [ready, answered, waited] = ['READY', 'ANSWERED 201', 'WAITED'].map((text) => markerLine(lines, text)) as [number, number, number];
  assert.ok(ready >= 0 && answered > ready && waited > answered, `the markers traced in order, the PUT answered 201 (${lines[markerLine(lines, 'ANSWERED')]})`);
  const isSync = (line: string) => /\b(fsync|fdatasync)\(/.test(line);
  const wal = `${path.join(dataDir, 'wharf.db')}-wal>`;

  const put = lines.slice(ready, answered);
  assert.ok(put.some((line) => /\brename(at2?)?\(/.test(line) && line.includes(fileOf(dataDir, body))), 'the manifest was placed before the answer');
  assert.ok(put.some((line) => isSync(line) && line.includes(wal)), 'the commit fsynced the WAL before the answer');
  // (The database's own files may be synced meanwhile: a checkpoint of the background writer.)
  const store = path.join(dataDir, 'storage');
  assert.deepEqual(put.filter((line) => isSync(line) && line.includes(store)), [], 'nothing of the store was flushed before the answer');
  assert.deepEqual(put.filter((line) => line.includes('O_SYNC') && line.includes(store)), [], 'no O_SYNC write to the store before the answer');

  const after = lines.slice(answered, waited).filter(isSync);
  const file = after.findIndex((line) => line.includes(`<${fileOf(dataDir, body)}>`));
  const directory = after.findIndex((line) => line.includes(`<${path.dirname(fileOf(dataDir, body))}>`));
  assert.ok(file >= 0 && directory > file, `the file, then its directory, fsynced within a second of the answer:\n${after.join('\n')}`);
  assert.deepEqual(await sqliteJournal(dataDir).digests(), [], 'the entry dropped');
  assert.ok((await readFile(fileOf(dataDir, body))).equals(body));
});

/** The journal table as a crash leaves it, seen and changed from outside the server. */
interface JournalTable {
  digests(): Promise<string[]>;
  insert(digest: string, body: Buffer, createdAt: number): Promise<void>;
}

function sqliteJournal(dataDir: string): JournalTable {
  const withDb = <T>(run: (db: SQLite.Database) => T): T => {
    const db = new SQLite(path.join(dataDir, 'wharf.db'));
    try {
      return run(db);
    } finally {
      db.close();
    }
  };
  return {
    digests: async () => withDb((db) => (db.prepare('select digest from placement_journal').all() as Array<{ digest: string }>).map((r) => r.digest)),
    insert: async (digest, body, createdAt) =>
      void withDb((db) => db.prepare('insert into placement_journal (id, digest, body, created_at) values (?, ?, ?, ?)').run(randomUUID(), digest, body.toString('base64'), createdAt)),
  };
}

function postgresJournal(url: string): JournalTable {
  return {
    digests: () => withClient(url, async (c) => (await c.query<{ digest: string }>('select digest from placement_journal')).rows.map((r) => r.digest)),
    insert: (digest, body, createdAt) =>
      withClient(url, async (c) => void (await c.query('insert into placement_journal (id, digest, body, created_at) values ($1, $2, $3, $4)', [randomUUID(), digest, body.toString('base64'), createdAt]))),
  };
}

async function replayAfterLoss(t: { after(fn: () => unknown): void }, database: 'sqlite' | 'postgres'): Promise<void> {
  const dataDir = await makeTempDir('wharf-journal-replay-');
  t.after(() => removeDir(dataDir));
  const pgDatabase = database === 'postgres' ? await freshDatabase(t, 'wharf_journal') : undefined;
  const config = loadConfig({
    env: {},
    overrides: { dataDirectory: dataDir, ...(pgDatabase ? { database: { driver: 'postgres', postgres: { url: pgDatabase.url } } } : {}) },
  });
  const journal = pgDatabase ? postgresJournal(pgDatabase.url) : sqliteJournal(dataDir);
  const kept = indexBody('kept');
  const deleted = indexBody('deleted');
  const put = (app: Awaited<ReturnType<typeof buildApp>>, tag: string, body: Buffer) =>
    app.http.inject({ method: 'PUT', url: `/v2/journal/app/manifests/${tag}`, headers: { 'content-type': INDEX }, payload: body });

  const first = await buildApp(config, pino({ level: 'silent' }));
  assert.equal((await put(first, 'v1', kept)).statusCode, 201);
  assert.equal((await put(first, 'old', deleted)).statusCode, 201);
  const digestOfDeleted = digestOf(deleted, 'sha256').value;
  assert.equal((await first.http.inject({ method: 'DELETE', url: `/v2/journal/app/manifests/${digestOfDeleted}` })).statusCode, 202);
  await first.close();
  assert.deepEqual(await journal.digests(), [], 'a clean stop leaves the journal empty');

  // What a power loss can leave: committed entries whose files did not survive.
  const digestOfKept = digestOf(kept, 'sha256').value;
  await journal.insert(digestOfKept, deleted, 1); // never written: not the digest's bytes
  await journal.insert(digestOfKept, kept, 2);
  await journal.insert(digestOfDeleted, deleted, 3);
  await rm(fileOf(dataDir, kept));
  await rm(fileOf(dataDir, deleted), { force: true });

  const logs: Array<{ level: number; msg: string; manifests?: number; digest?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const second = await buildApp(config, logger);
  t.after(() => second.close());
  assert.ok((await readFile(fileOf(dataDir, kept))).equals(kept), 'the kept manifest rewritten, with its bytes');
  assert.equal(existsSync(fileOf(dataDir, deleted)), false, 'a manifest deleted since is not brought back');
  assert.deepEqual(await journal.digests(), [], 'the journal emptied');
  assert.ok(logs.some((l) => l.msg.includes('rewrote the manifests') && l.manifests === 1), 'the replay is logged with its count');
  assert.ok(logs.some((l) => l.msg.includes('does not match its digest') && l.digest === digestOfKept), 'the mismatching entry is reported');
  const pulled = await second.http.inject({ method: 'GET', url: '/v2/journal/app/manifests/v1', headers: { accept: INDEX } });
  assert.equal(pulled.statusCode, 200);
  assert.ok(pulled.rawPayload.equals(kept));
}

test('a start rewrites the journaled manifests a crash lost, before it serves; not those deleted since, nor bytes that do not match (SQLite)', (t) =>
  replayAfterLoss(t, 'sqlite'));

test('the same replay with the metadata on PostgreSQL', { skip: postgresSkipReason() }, (t) => replayAfterLoss(t, 'postgres'));

test('a failed flush keeps the entries and is retried; close() flushes what is pending', async (t) => {
  const dir = await makeTempDir('wharf-journal-retry-');
  t.after(() => removeDir(dir));
  const db = await openDatabase({ driver: 'sqlite', path: path.join(dir, 'wharf.db') });
  t.after(() => db.destroy());
  const metadata = metadataStore(db);
  const synced: string[][] = [];
  const errors: unknown[] = [];
  let failNext = true;
  const journal = placementJournal({
    metadata,
    storage: { write: () => Promise.reject(new Error('no replay here')) },
    syncPlaced: async (keys) => {
      if (failNext) {
        failNext = false;
        throw new Error('disk says no');
      }
      synced.push([...keys]);
    },
    now: Date.now,
    onError: (error) => errors.push(error),
    onInconsistency: () => assert.fail('no inconsistency expected'),
  });
  const body = indexBody('retry');
  const digest = digestOf(body, 'sha256').value;
  const id = await metadata.transaction((tx) => journal.record(tx, digest, body));
  journal.committed(id, digest);
  for (let waited = 0; errors.length === 0 && waited < 2_000; waited += 10) await sleep(10);
  assert.match(String(errors[0]), /disk says no/);
  assert.equal((await metadata.placementJournal.oldest(10)).length, 1, 'the entry stays while its file is not flushed');
  for (let waited = 0; synced.length === 0 && waited < 5_000; waited += 50) await sleep(50);
  assert.deepEqual(synced, [[`blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`]], 'retried, with the same key');
  for (let waited = 0; (await metadata.placementJournal.oldest(10)).length > 0 && waited < 2_000; waited += 20) await sleep(20);
  assert.deepEqual(await metadata.placementJournal.oldest(10), [], 'dropped once flushed');

  const later = indexBody('at close');
  const laterDigest = digestOf(later, 'sha256').value;
  journal.committed(await metadata.transaction((tx) => journal.record(tx, laterDigest, later)), laterDigest);
  await journal.close();
  assert.equal(synced.length, 2, 'close() flushed the pending entry at once');
  assert.deepEqual(await metadata.placementJournal.oldest(10), []);
});

test('PUTs journal while the flushes keep up; beyond the bound of unflushed entries they place their bytes durably themselves', async (t) => {
  let flushes = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const h = await harness(t, 'sqlite', { staging: true, journal: { maxUnflushed: 2, syncPlaced: async () => void (flushes += 1, await held) } });
  const journaled = async () => (await h.db.selectFrom('placement_journal').select('digest').execute()).map((row) => row.digest);
  const until = async (what: string, ready: () => Promise<boolean> | boolean) => {
    for (let waited = 0; !(await ready()); waited += 10) {
      if (waited > 5_000) assert.fail(`timed out waiting for ${what}`);
      await sleep(10);
    }
  };
  const [a, b, c, d] = [ociImage(), ociImage(), ociImage(), ociImage()];

  await h.push('team/app', 'a', a);
  assert.deepEqual(await journaled(), [a.manifest.digest], 'the first PUT journaled its bytes');
  await until('the first flush to start (and hang)', () => flushes === 1);
  await h.push('team/app', 'b', b);
  assert.equal(h.placements!.accepting(), false, 'one entry flushing and one pending: at the bound');
  await h.push('team/app', 'c', c);
  assert.deepEqual((await journaled()).sort(), [a.manifest.digest, b.manifest.digest].sort(), 'the third PUT journaled nothing');
  assert.ok((await readFile(fileOf(h.dir, c.manifest.bytes))).equals(c.manifest.bytes), 'and its bytes are in place');

  release();
  await until('the journal to empty', async () => (await journaled()).length === 0);
  assert.equal(h.placements!.accepting(), true);
  await h.push('team/app', 'd', d);
  assert.deepEqual(await journaled(), [d.manifest.digest], 'journaling again once the flushes caught up');
  assert.deepEqual(h.events.filter((event) => event.startsWith('journal-error') || event.startsWith('inconsistency')), []);
});
