/**
 * Named leases (src/metadata/leases.ts) and runExclusive (src/lib/exclusive.ts), on SQLite and on
 * PostgreSQL: one holder at a time, expiry frees a crashed holder's lease, renewal keeps it,
 * and a lost lease aborts the work.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runExclusive } from '../../src/lib/exclusive.js';
import { leaseStore } from '../../src/metadata/leases.js';
import { testDatabases } from '../fixtures/databases.js';

const dialects = testDatabases('lease');

for (const dialect of dialects) {
  describe(`leases on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('one holder at a time; the holder extends; release frees it', async (t) => {
      const leases = leaseStore(await dialect.open(t));
      assert.equal(await leases.acquire('gc', 'a', 1000, 10_000), true);
      assert.equal(await leases.acquire('gc', 'b', 1000, 10_500), false);
      assert.equal(await leases.acquire('gc', 'a', 1000, 10_600), true);
      assert.deepEqual(await leases.get('gc'), { name: 'gc', holder: 'a', acquiredAt: 10_000, expiresAt: 11_600 });
      await leases.release('gc', 'b');
      assert.equal((await leases.get('gc'))?.holder, 'a', 'only the holder releases');
      await leases.release('gc', 'a');
      assert.equal(await leases.get('gc'), undefined);
      assert.equal(await leases.acquire('gc', 'b', 1000, 10_700), true);
    });

    test('an expired lease is taken over, and its old holder cannot renew it', async (t) => {
      const leases = leaseStore(await dialect.open(t));
      assert.equal(await leases.acquire('gc', 'crashed', 1000, 0), true);
      assert.equal(await leases.acquire('gc', 'b', 1000, 999), false);
      assert.equal(await leases.acquire('gc', 'b', 1000, 1000), true);
      assert.equal(await leases.renew('gc', 'crashed', 1000, 1001), false);
      assert.equal(await leases.renew('gc', 'b', 1000, 1001), true);
      assert.equal((await leases.get('gc'))?.expiresAt, 2001);
    });

    test('of 20 racing acquirers exactly one wins', async (t) => {
      const leases = leaseStore(await dialect.open(t));
      const won = await Promise.all(Array.from({ length: 20 }, (_, i) => leases.acquire('race', `h${i}`, 60_000, 5)));
      assert.equal(won.filter(Boolean).length, 1);
      assert.equal((await leases.get('race'))?.holder, `h${won.indexOf(true)}`);
    });

    test('runExclusive: the second caller does not run; a lost lease aborts the work', async (t) => {
      const leases = leaseStore(await dialect.open(t));
      // A generous time to live: on a loaded machine a PostgreSQL round trip can take a good part of a second.
      const opts = (holder: string) => ({ holder, ttlMs: 1500, now: Date.now });
      let release!: () => void;
      const first = runExclusive(leases, 'job', opts('one'), () => new Promise<string>((r) => (release = () => r('done'))));
      while ((await leases.get('job'))?.holder !== 'one') await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(await runExclusive(leases, 'job', opts('two'), async () => 'ran'), { ran: false });
      // Renewal keeps the lease well past its time to live.
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await leases.get('job'))?.holder, 'one');
      release();
      assert.deepEqual(await first, { ran: true, value: 'done' });
      assert.equal(await leases.get('job'), undefined, 'released when the work settles');

      // Another holder steals the lease (as after a long pause): the work sees its signal abort.
      const aborted = await runExclusive(leases, 'job', opts('three'), async (signal) => {
        await leases.release('job', 'three');
        assert.equal(await leases.acquire('job', 'thief', 60_000, Date.now()), true);
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        return String((signal.reason as Error).message);
      });
      assert.deepEqual(aborted, { ran: true, value: 'lease job was taken by another holder' });
      assert.equal((await leases.get('job'))?.holder, 'thief', 'the loser does not release the new holder');
    });
  });
}
