import { sql } from 'kysely';
import type { Db } from './database.js';

export interface Lease {
  name: string;
  holder: string;
  acquiredAt: number;
  expiresAt: number;
}

/**
 * Named, expiring leases in the shared database. Every operation is one statement, so two
 * instances racing for a lease cannot both win, on SQLite or PostgreSQL. Times come from the
 * caller's clock; instances are expected to agree within a small fraction of a lease's time to live.
 */
export interface LeaseStore {
  /**
   * Takes `name` for `holder` until `now + ttlMs` when it is free, expired, or already held by
   * `holder` (which then extends it). True when `holder` holds it afterwards.
   */
  acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  /** Extends a lease `holder` still holds; false when it was lost (expired and taken by another). */
  renew(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives the lease up if `holder` holds it. */
  release(name: string, holder: string): Promise<void>;
  /** The lease as stored (possibly expired), or undefined. */
  get(name: string): Promise<Lease | undefined>;
  /** Leases whose name starts with `prefix` (no `%` or `_` in it), at most 1000. */
  withPrefix(prefix: string): Promise<Lease[]>;
}

const toLease = (row: { name: string; holder: string; acquired_at: number; expires_at: number }): Lease => ({
  name: row.name,
  holder: row.holder,
  acquiredAt: Number(row.acquired_at),
  expiresAt: Number(row.expires_at),
});

export function leaseStore(db: Db): LeaseStore {
  return {
    async acquire(name, holder, ttlMs, now) {
      await db
        .insertInto('leases')
        .values({ name, holder, acquired_at: now, expires_at: now + ttlMs })
        .onConflict((c) =>
          c
            .column('name')
            .doUpdateSet({
              holder,
              // A holder extending its own lease keeps its original acquisition time.
              acquired_at: sql<number>`case when leases.holder = ${holder} then leases.acquired_at else ${now} end`,
              expires_at: now + ttlMs,
            })
            .where((eb) => eb.or([eb('leases.expires_at', '<=', now), eb('leases.holder', '=', holder)])),
        )
        .execute();
      const row = await db.selectFrom('leases').select('holder').where('name', '=', name).executeTakeFirst();
      return row?.holder === holder;
    },
    async renew(name, holder, ttlMs, now) {
      const result = await db
        .updateTable('leases')
        .set({ expires_at: now + ttlMs })
        .where('name', '=', name)
        .where('holder', '=', holder)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async release(name, holder) {
      await db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute();
    },
    async get(name) {
      const row = await db.selectFrom('leases').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toLease(row);
    },
    async withPrefix(prefix) {
      return (await db.selectFrom('leases').selectAll().where('name', 'like', `${prefix}%`).orderBy('name').limit(1000).execute()).map(toLease);
    },
  };
}
