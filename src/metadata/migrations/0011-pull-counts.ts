import type { Kysely, Migration } from 'kysely';

/**
 * Pulls counted, not logged one by one: an audit row may stand for several pulls of one manifest
 * by one identity within an hour (`count`, from `first_time` to `time`), and each manifest keeps
 * its total pull count beside `last_pulled_at`.
 */
export const pullCountColumns: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('audit_events').addColumn('count', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    await db.schema.alterTable('audit_events').addColumn('first_time', 'bigint').execute();
    await db.schema.alterTable('manifests').addColumn('pull_count', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  },
};
