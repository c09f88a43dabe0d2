/**
 * Precompiled statements inside a SQLite transaction run on the connection directly
 * (src/metadata/direct-statements.ts), not through Kysely's executor chain: only while the
 * transaction's work runs, with Kysely's results and Kysely's rollback; a statement on the
 * transaction after its work ended is refused, never run outside it; a failing statement
 * rejects. PostgreSQL keeps Kysely's path, with the same answers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../../src/metadata/database.js';
import { runDirect, withDirectStatements } from '../../src/metadata/direct-statements.js';
import { precompiled } from '../../src/metadata/precompiled.js';
import { metadataStore } from '../../src/metadata/store.js';
import { testDatabases } from '../fixtures/databases.js';

const insert = precompiled((db, v: { name: string; now: number }) =>
  db.insertInto('repositories').values({ name: v.name, created_at: v.now }).onConflict((c) => c.column('name').doNothing()),
);
const read = precompiled((db, v: { name: string }) => db.selectFrom('repositories').select(['name', 'created_at']).where('name', '=', v.name));
// created_at is NOT NULL.
const broken = precompiled((db, v: { name: string }) => db.insertInto('repositories').values({ name: v.name, created_at: sql<number>`null` }));

/** Runs `work` in a transaction of `db` as the metadata store runs one. */
const inTransaction = <T>(db: Db, work: (trx: Db) => Promise<T>) => db.transaction().execute((trx) => withDirectStatements(db, trx, () => work(trx)));

for (const database of testDatabases('direct')) {
  const direct = database.name === 'sqlite';

  describe(`precompiled statements in transactions on ${database.name}`, { skip: database.skip }, () => {
    test(direct ? 'run on the connection while the work runs, with Kysely\'s results' : 'keep Kysely\'s path', async (t) => {
      const db = await database.open(t);
      let ended: Db | undefined;
      await inTransaction(db, async (trx) => {
        assert.equal(runDirect(trx, read.bind(trx, { name: 'team/app' })) !== undefined, direct, 'direct inside the work');
        assert.equal(await insert.changes(trx, { name: 'team/app', now: 1 }), 1);
        assert.equal(await insert.changes(trx, { name: 'team/app', now: 2 }), 0, 'the conflict inserts nothing');
        assert.deepEqual(await read.rows(trx, { name: 'team/app' }), [{ name: 'team/app', created_at: 1 }]);
        assert.equal((await insert.execute(trx, { name: 'team/web', now: 3 })).numAffectedRows, 1n);
        ended = trx;
      });
      assert.equal(runDirect(db, read.bind(db, { name: 'team/app' })), undefined, 'never outside a transaction');
      assert.equal(runDirect(ended!, read.bind(ended!, { name: 'team/app' })), undefined, 'not once the work ended');
      await assert.rejects(read.rows(ended!, { name: 'team/app' }), /committed|rolled back/i, 'a late statement is refused, not run outside it');
      assert.deepEqual(await read.rows(db, { name: 'team/app' }), [{ name: 'team/app', created_at: 1 }], 'committed');
    });

    test('a failing statement rejects, and the transaction rolls back what it ran', async (t) => {
      const db = await database.open(t);
      await assert.rejects(
        inTransaction(db, async (trx) => {
          await insert.changes(trx, { name: 'team/undone', now: 1 });
          const failing = broken.changes(trx, { name: 'team/broken' });
          assert.ok(failing instanceof Promise, 'a rejection, not a synchronous throw');
          await failing;
        }),
        /NOT NULL|null value/i,
      );
      assert.deepEqual(await read.rows(db, { name: 'team/undone' }), [], 'rolled back');
    });

    test('the metadata store\'s transactions commit through it, and nested ones join them', async (t) => {
      const db = await database.open(t);
      const metadata = metadataStore(db);
      await metadata.transaction(async (tx) => {
        await tx.repositories.ensure('team/outer', 1);
        await tx.transaction((inner) => inner.repositories.ensure('team/inner', 2));
      });
      assert.equal((await read.rows(db, { name: 'team/outer' })).length, 1);
      assert.equal((await read.rows(db, { name: 'team/inner' })).length, 1);
    });
  });
}
