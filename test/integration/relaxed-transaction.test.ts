/**
 * relaxedTransaction (src/metadata/dialect.ts), on SQLite and on PostgreSQL: its commit is
 * visible at once and its rollback undoes everything, it alone runs without waiting for the disk
 * (PostgreSQL `synchronous_commit` off; SQLite: no WAL flush of the group commit, whose own test is
 * group-commit.test.ts), and the connection is back to durable commits afterwards, also after a
 * failure. Faults: the SQLite file locked by another process, the PostgreSQL connection killed
 * mid-transaction; the next transaction works.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { isPostgres, relaxedTransaction } from '../../src/metadata/dialect.js';
import type { Db } from '../../src/metadata/database.js';
import { leaseStore } from '../../src/metadata/leases.js';
import { testDatabases, type TestDatabase } from '../fixtures/databases.js';

/**
 * Whether the next commit waits for the disk: PostgreSQL's `synchronous_commit`; on SQLite, whether
 * a write through this handle waits for a WAL flush (counted by `flushes`, the group commit's).
 */
async function durability(db: Db, flushes: number[]): Promise<string> {
  if (isPostgres(db)) return (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db)).rows[0]!.synchronous_commit;
  const before = flushes.length;
  await leaseStore(db).acquire('probe', 'p', 60_000, Date.now());
  return flushes.length > before ? 'on' : 'off';
}

/** Opens the database on one pooled connection (what a transaction set would stay on it), durable. */
async function openDurable(database: TestDatabase, t: { after(fn: () => unknown): void }): Promise<{ db: Db; flushes: number[] }> {
  const flushes: number[] = [];
  const db = await database.open(t, { poolSize: 1, observeSync: (_seconds, writers) => flushes.push(writers) });
  // The test PostgreSQL server turns synchronous_commit off for speed; this session turns it on.
  if (isPostgres(db)) await sql`set synchronous_commit = on`.execute(db);
  return { db, flushes };
}

for (const database of testDatabases('relaxed')) {
  const durable = 'on';
  const relaxed = 'off';

  describe(`relaxed transactions on ${database.name}`, { skip: database.skip }, () => {
    test('commits visibly, without waiting for the disk, and leaves the connection durable', async (t) => {
      const { db, flushes } = await openDurable(database, t);
      assert.equal(await durability(db, flushes), durable);
      const before = flushes.length;
      const inside = await relaxedTransaction(db, async (trx) => {
        await leaseStore(trx).acquire('reserve', 'a', 60_000, 1_000);
        return isPostgres(trx) ? durability(trx, flushes) : relaxed;
      });
      assert.equal(inside, relaxed);
      assert.equal(flushes.length, before, 'SQLite: the relaxed commit waited for no WAL flush');
      assert.equal((await leaseStore(db).get('reserve'))?.holder, 'a', 'committed');
      assert.equal(await durability(db, flushes), durable);
    });

    test('a failure rolls everything back and the connection is durable again', async (t) => {
      const { db, flushes } = await openDurable(database, t);
      await assert.rejects(
        relaxedTransaction(db, async (trx) => {
          await leaseStore(trx).acquire('reserve', 'a', 60_000, 1_000);
          throw new Error('refused');
        }),
        /refused/,
      );
      assert.equal(await leaseStore(db).get('reserve'), undefined);
      assert.equal(await durability(db, flushes), durable);
    });

    test('a database fault mid-transaction: nothing commits, and the next transaction works', async (t) => {
      const { db, flushes } = await openDurable(database, t);
      if (isPostgres(db)) {
        // The server ends this connection while the transaction is open (a restart, a failover).
        await assert.rejects(
          relaxedTransaction(db, async (trx) => {
            await leaseStore(trx).acquire('reserve', 'a', 60_000, 1_000);
            await sql`select pg_terminate_backend(pg_backend_pid())`.execute(trx);
          }),
          /terminat/,
        );
      } else {
        // Another process holds the file's write lock for longer than the busy timeout.
        const file = (await sql<{ file: string }>`pragma database_list`.execute(db)).rows[0]!.file;
        const other = new SQLite(file);
        other.exec('begin immediate');
        t.after(() => other.open && other.close());
        await assert.rejects(relaxedTransaction(db, (trx) => leaseStore(trx).acquire('reserve', 'a', 60_000, 1_000)), /locked|busy/i);
        other.exec('rollback');
        other.close();
        assert.equal(await durability(db, flushes), durable, 'after the failed transaction, writes wait for the disk again');
      }
      assert.equal(await leaseStore(db).get('reserve'), undefined, 'nothing of it committed');
      await relaxedTransaction(db, (trx) => leaseStore(trx).acquire('reserve', 'b', 60_000, 2_000));
      assert.equal((await leaseStore(db).get('reserve'))?.holder, 'b');
    });
  });
}
