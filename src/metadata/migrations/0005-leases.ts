import type { Kysely, Migration } from 'kysely';

/**
 * Named leases: "exactly one instance does this at a time" for work that several instances
 * sharing one database might start (GC, retention, mirror fetches, webhook delivery, replication).
 * A lease expires on its own, so a holder that crashed never blocks the others for longer than
 * its time to live.
 */
export const leaseTable: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('acquired_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
