import type { Kysely, Migration } from 'kysely';

/**
 * The manifest placement journal: a pushed manifest's bytes, committed with the manifest, until
 * its file on the filesystem store is flushed to disk (registry/placement-journal.ts). `body` is
 * base64 text: the same column type on SQLite and PostgreSQL.
 */
export const placementJournalTable: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('placement_journal')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
