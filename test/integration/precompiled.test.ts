/**
 * Precompiled statements (src/metadata/precompiled.ts) on SQLite and on PostgreSQL, the same
 * statement objects for both (one process may use both dialects): built once per dialect, values
 * bound in their places (a value used twice, a constant the builder bound), inside and outside
 * transactions, and the same rows as Kysely's own builder gives.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fastReads } from '../../src/metadata/fast-reads.js';
import { precompiled, precompiledWithList } from '../../src/metadata/precompiled.js';
import { testDatabases } from '../fixtures/databases.js';

let builds = 0;
const upsertTag = precompiled((db, v: { repository: string; name: string; digest: string; now: number }) => {
  builds += 1;
  return db
    .insertInto('tags')
    .values({ repository: v.repository, name: v.name, digest: v.digest, updated_at: v.now })
    .onConflict((c) => c.columns(['repository', 'name']).doUpdateSet({ digest: v.digest, updated_at: v.now }));
});
// 'r/' is a constant the builder binds, beside the run's value.
const tagsLike = precompiled((db, v: { prefix: string }) =>
  db.selectFrom('tags').select(['repository', 'name', 'digest', 'updated_at']).where('repository', 'like', 'r/%').where('name', 'like', v.prefix).orderBy('name'),
);
const tagsNamed = precompiledWithList('names', (db, v: { repository: string; names: readonly string[] }) =>
  db.selectFrom('tags').select('name').where('repository', '=', v.repository).where('name', 'in', v.names).orderBy('name'),
);
const dropTag = precompiled((db, v: { name: string }) => db.deleteFrom('tags').where('name', '=', v.name));

for (const dialect of testDatabases('precompiled')) {
  describe(`precompiled statements on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('values bound in place, constants kept, rows as the builder gives them, changes counted', async (t) => {
      const db = await dialect.open(t);
      const before = builds;
      for (const [name, digest] of [['a', 'sha256:1'], ['b', 'sha256:2'], ['a', 'sha256:3']]) {
        await upsertTag.execute(db, { repository: 'r/x', name: name!, digest: digest!, now: 7 });
      }
      await upsertTag.execute(db, { repository: 'other', name: 'a2', digest: 'sha256:4', now: 8 });
      assert.ok(builds - before <= 1, 'built at most once for this dialect (never when another test built it for it)');

      const mine = await tagsLike.rows(db, { prefix: 'a%' });
      const kysely = await db.selectFrom('tags').select(['repository', 'name', 'digest', 'updated_at']).where('repository', 'like', 'r/%').where('name', 'like', 'a%').orderBy('name').execute();
      assert.deepEqual(mine, kysely);
      assert.deepEqual(
        mine.map((r) => [r.name, r.digest, Number(r.updated_at)]),
        [['a', 'sha256:3', 7]],
        'the upsert set both of its uses of `digest`; the other repository is outside the constant',
      );
      assert.equal(await dropTag.changes(db, { name: 'zzz' }), 0);
      assert.equal(await dropTag.changes(db, { name: 'b' }), 1);
      assert.equal((await tagsLike.first(db, { prefix: '%' }))?.name, 'a');
    });

    test('inside a transaction: its connection, rolled back with it; fast reads outside see committed rows', async (t) => {
      const db = await dialect.open(t);
      await upsertTag.execute(db, { repository: 'r/y', name: 'kept', digest: 'sha256:5', now: 1 });
      await assert.rejects(
        db.transaction().execute(async (tx) => {
          await upsertTag.execute(tx, { repository: 'r/y', name: 'gone', digest: 'sha256:6', now: 2 });
          assert.equal((await tagsLike.first(tx, { prefix: 'gone' }))?.digest, 'sha256:6', 'the transaction sees its own row');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await tagsLike.first(db, { prefix: 'gone' }), undefined);
      const reads = fastReads(db);
      assert.equal((await reads.first(tagsLike, { prefix: 'kept' }))?.digest, 'sha256:5');
    });

    test('an in-list: compiled per length, each run binds its own items; a long list is built per run', async (t) => {
      const db = await dialect.open(t);
      const names = Array.from({ length: 40 }, (_, i) => `t${String(i).padStart(2, '0')}`);
      for (const name of names) await upsertTag.execute(db, { repository: 'r/z', name, digest: 'sha256:7', now: 3 });
      const named = async (list: string[]) => (await tagsNamed.rows(db, { repository: 'r/z', names: list })).map((r) => r.name);
      assert.deepEqual(await named(['t01']), ['t01']);
      assert.deepEqual(await named(['t05']), ['t05'], 'the same length again, other items');
      assert.deepEqual(await named(['t03', 'nope', 't02']), ['t02', 't03']);
      assert.deepEqual(await named([...names, 'nope']), names, 'past the precompiled lengths');
    });

    test('a missing value is refused by name, not bound as NULL', async (t) => {
      const db = await dialect.open(t);
      await assert.rejects(tagsLike.rows(db, {} as { prefix: string }), /no value for 'prefix'/);
    });
  });
}
