/**
 * Pulls counted, not logged one row each (src/auth/audit-log.ts, src/metadata/audit.ts), on SQLite
 * (through the background worker thread) and PostgreSQL: manifest pull counts and last-pulled
 * times, hourly audit rows per manifest, reference and identity whose counts add up across two
 * "instances" sharing the database, the audit query's answers to "who pulled what", `each` mode,
 * and a failed flush kept for the next one.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { auditLog, type AuditLog, type PullInput } from '../../src/auth/audit-log.js';
import { inlineWriter, startBackgroundWriter, type BackgroundWriter } from '../../src/metadata/background-writer.js';
import { openDatabase, type Db } from '../../src/metadata/database.js';
import { metadataStore, type MetadataStore } from '../../src/metadata/store.js';
import { freshDatabase, postgresSkipReason } from '../fixtures/postgres.js';
import { makeTempDir } from '../fixtures/paths.js';

interface Opened {
  db: Db;
  metadata: MetadataStore;
  writer: BackgroundWriter;
}

const dialects: { name: string; skip?: string; open(t: { after(fn: () => unknown): void }): Promise<() => Promise<Opened>> }[] = [
  {
    name: 'sqlite',
    async open(t) {
      const file = path.join(await makeTempDir('pulls-'), 'wharf.db');
      // Each call: another connection to the same file, with its own worker (another instance).
      return async () => {
        const db = await openDatabase({ driver: 'sqlite', path: file });
        const writer = await startBackgroundWriter(db, { sqlitePath: file, onError: (error) => assert.fail(String(error)) });
        assert.equal(writer.offThread, true, 'SQLite batches run in the worker thread');
        t.after(async () => {
          await writer.close();
          await db.destroy();
        });
        return { db, metadata: metadataStore(db, writer), writer };
      };
    },
  },
  {
    name: 'postgres',
    ...(postgresSkipReason() ? { skip: postgresSkipReason() } : {}),
    async open(t) {
      const fresh = await freshDatabase(undefined, 'wharf_pulls');
      t.after(() => fresh.drop());
      return async () => {
        const db = await openDatabase({ driver: 'postgres', url: fresh.url, poolSize: 4 });
        t.after(() => db.destroy());
        const writer = inlineWriter(db);
        return { db, metadata: metadataStore(db, writer), writer };
      };
    },
  },
];

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);

async function pushManifest(metadata: MetadataStore, repository: string, digest: string): Promise<void> {
  await metadata.transaction(async (tx) => {
    await tx.repositories.ensure(repository, T0);
    await tx.blobs.reserve({ digest, size: 100 }, T0);
    await tx.blobs.finalize(digest, T0);
    await tx.manifests.add({
      record: { repository, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 100, artifactType: null, subject: null, configDigest: null, annotations: null, createdAt: T0 },
      references: [],
    });
  });
}

const digestA = `sha256:${'a'.repeat(64)}`;
const digestB = `sha256:${'b'.repeat(64)}`;
const pull = (actor: string, reference: string, digest = digestA, extra: Partial<PullInput> = {}): PullInput => ({
  actor, source: '10.0.0.1', project: 'team', repository: 'team/app', reference, digest, ...extra,
});

function logFor(metadata: MetadataStore, clock: { now: number }, mode: 'hourly' | 'each' = 'hourly', onError = (error: unknown) => assert.fail(String(error))): AuditLog {
  return auditLog({ store: metadata.audit, now: () => clock.now, retentionDays: 90, pulls: mode, onError });
}

for (const dialect of dialects) {
  describe(`pull counts on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('counts per manifest and hourly audit rows per reference and identity, added up across instances', async (t) => {
      const open = await dialect.open(t);
      const one = await open();
      const two = await open();
      await pushManifest(one.metadata, 'team/app', digestA);
      await pushManifest(one.metadata, 'team/app', digestB);
      const clock = { now: T0 + 5 * 60_000 };
      const logOne = logFor(one.metadata, clock);
      const logTwo = logFor(two.metadata, clock);

      for (let i = 0; i < 300; i++) {
        clock.now += 1000;
        logOne.recordPull(pull('alice', 'v1', digestA, { source: `10.0.0.${i % 7}` }));
        if (i % 3 === 0) logTwo.recordPull(pull('alice', 'v1'));
        if (i % 10 === 0) logOne.recordPull(pull('ci', digestA, digestA, { detail: { robot: true } }));
      }
      const lastInHour = clock.now;
      // The next hour starts a new row for the same manifest, reference and identity.
      clock.now = T0 + HOUR + 60_000;
      logTwo.recordPull(pull('alice', 'v1'));
      logOne.recordPull(pull('bob', 'v2', digestB));
      await logOne.settle();
      await logTwo.settle();

      const extras = await one.metadata.browse.manifestExtras('team/app', digestA);
      assert.equal(extras?.pullCount, 300 + 100 + 30 + 1, 'every pull of digest A counted, from both instances');
      assert.equal(extras?.lastPulledAt, T0 + HOUR + 60_000);
      const extrasB = await two.metadata.browse.manifestExtras('team/app', digestB);
      assert.deepEqual([extrasB?.pullCount, extrasB?.lastPulledAt], [1, T0 + HOUR + 60_000]);
      const tags = await one.metadata.browse.tags('team/app', { limit: 10, offset: 0 });
      assert.equal(tags.total, 0, 'no tags were set; pull counts live on manifests');

      const pulls = await logOne.query({ actions: ['pull'], limit: 100, offset: 0 });
      const rows = pulls.events.map((e) => ({ actor: e.actor, reference: e.reference, digest: e.digest, count: e.count, first: e.first_time, last: e.time, detail: e.detail }));
      assert.deepEqual(rows, [
        { actor: 'bob', reference: 'v2', digest: digestB, count: 1, first: T0 + HOUR + 60_000, last: T0 + HOUR + 60_000, detail: null },
        { actor: 'alice', reference: 'v1', digest: digestA, count: 1, first: T0 + HOUR + 60_000, last: T0 + HOUR + 60_000, detail: null },
        { actor: 'alice', reference: 'v1', digest: digestA, count: 400, first: T0 + 5 * 60_000 + 1000, last: lastInHour, detail: null },
        { actor: 'ci', reference: digestA, digest: digestA, count: 30, first: T0 + 5 * 60_000 + 1000, last: T0 + 5 * 60_000 + 291_000, detail: '{"robot":true}' },
      ]);
      assert.equal(pulls.total, 4, 'four rows stand for 432 pulls');

      // Who pulled what, and when: filters by identity, repository and time window.
      const alice = await logTwo.query({ actor: 'alice', actions: ['pull'], limit: 10, offset: 0 });
      assert.deepEqual(alice.events.map((e) => e.count), [1, 400]);
      const window = await logOne.query({ actions: ['pull'], since: T0 + 5 * 60_000 + 200_000, until: T0 + 5 * 60_000 + 250_000, limit: 10, offset: 0 });
      assert.deepEqual(window.events.map((e) => `${e.actor}:${e.count}`), ['alice:400', 'ci:30'], 'rows whose span overlaps the window');
      const later = await logOne.query({ actions: ['pull'], since: T0 + HOUR, limit: 10, offset: 0 });
      assert.deepEqual(later.events.map((e) => e.actor), ['bob', 'alice']);
      const before = await logOne.query({ actions: ['pull'], until: T0 + 5 * 60_000, limit: 10, offset: 0 });
      assert.equal(before.total, 0);
      const source = (await logOne.query({ actor: 'alice', actions: ['pull'], until: T0 + HOUR, limit: 1, offset: 0 })).events[0]?.source;
      assert.ok(source?.startsWith('10.0.0.'), 'a row keeps the latest source seen');
    });

    test('each mode: one audit row per pull; counts and last pull as in hourly mode', async (t) => {
      const open = await dialect.open(t);
      const { metadata } = await open();
      await pushManifest(metadata, 'team/app', digestA);
      const clock = { now: T0 };
      const log = logFor(metadata, clock, 'each');
      for (let i = 0; i < 25; i++) {
        clock.now += 10;
        log.recordPull(pull(i % 2 ? 'alice' : 'bob', 'v1'));
      }
      log.record({ actor: 'alice', action: 'push', repository: 'team/app', result: 'success' });
      await log.settle();
      const pulls = await log.query({ actions: ['pull'], limit: 100, offset: 0 });
      assert.equal(pulls.total, 25);
      assert.ok(pulls.events.every((e) => e.count === 1 && e.first_time === null));
      assert.equal((await log.query({ actor: 'alice', actions: ['pull'], limit: 100, offset: 0 })).total, 12);
      assert.equal((await log.query({ actions: ['push'], limit: 10, offset: 0 })).total, 1);
      const extras = await metadata.browse.manifestExtras('team/app', digestA);
      assert.deepEqual([extras?.pullCount, extras?.lastPulledAt], [25, T0 + 250]);
    });

    test('a failed flush is kept and written by the next one', async (t) => {
      const open = await dialect.open(t);
      const { metadata } = await open();
      await pushManifest(metadata, 'team/app', digestA);
      const clock = { now: T0 };
      let failNext = true;
      const errors: unknown[] = [];
      const store = {
        ...metadata.audit,
        write: async (batch: Parameters<typeof metadata.audit.write>[0]) => {
          if (failNext) {
            failNext = false;
            throw new Error('database down');
          }
          return metadata.audit.write(batch);
        },
      };
      const log = auditLog({ store, now: () => clock.now, retentionDays: 90, onError: (error) => errors.push(error) });
      for (let i = 0; i < 10; i++) log.recordPull(pull('alice', 'v1'));
      log.record({ actor: 'alice', action: 'login', result: 'success' });
      await log.settle();
      assert.equal(errors.length, 1);
      assert.equal((await metadata.browse.manifestExtras('team/app', digestA))?.pullCount, 0, 'nothing written yet');
      log.recordPull(pull('alice', 'v1'));
      await log.settle();
      assert.equal((await metadata.browse.manifestExtras('team/app', digestA))?.pullCount, 11);
      const rows = await log.query({ limit: 10, offset: 0 });
      assert.deepEqual(rows.events.map((e) => `${e.action}:${e.count}`).sort(), ['login:1', 'pull:11']);
    });
  });
}
