import type { Kysely, Migration } from 'kysely';

/**
 * The mirror's index of cached content. The bytes and the ordinary registry rows (manifests,
 * tags, blob links of the mirror repository) are written as for private content; these tables
 * add what only a cache needs: when each entry was last pulled (LRU eviction) and when each
 * tag was last checked against the upstream (TTL). Shared by every instance on the database.
 */
export const mirrorTables: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('mirror_cache')
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('upstream', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_pulled_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('mirror_cache_pk', ['repository', 'digest'])
      .execute();
    await db.schema.createIndex('mirror_cache_last_pulled').on('mirror_cache').column('last_pulled_at').execute();
    await db.schema.createIndex('mirror_cache_digest').on('mirror_cache').column('digest').execute();
    // Eviction asks "does anything else still use this digest?": make that an index lookup.
    await db.schema.createIndex('manifests_digest_mirror').on('manifests').column('digest').execute();
    await db.schema
      .createTable('mirror_tags')
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('checked_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('mirror_tags_pk', ['repository', 'tag'])
      .execute();
  },
};
