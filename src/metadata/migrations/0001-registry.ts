import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * Names that lists return in order (repositories, tags) sort byte-wise, as the spec asks: SQLite
 * compares text that way already; PostgreSQL needs the "C" collation, whatever the database's default.
 */
function orderedText(db: Kysely<unknown>) {
  return db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
}

/** Repositories, blobs, manifests, references, tags and upload sessions. */
export const registryTables: Migration = {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('repositories')
        .addColumn('name', orderedText(db), (c) => c.primaryKey())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('blobs')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('repository_blobs')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('repository_blobs_pk', ['repository', 'digest'])
        .execute();
      await db.schema.createIndex('repository_blobs_digest').on('repository_blobs').column('digest').execute();
      await db.schema
        .createTable('manifests')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('media_type', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('artifact_type', 'text')
        .addColumn('subject', 'text')
        .addColumn('config_digest', 'text')
        .addColumn('annotations', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('manifests_pk', ['repository', 'digest'])
        .execute();
      await db.schema.createIndex('manifests_subject').on('manifests').columns(['repository', 'subject']).execute();
      await db.schema
        .createTable('manifest_references')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('parent', 'text', (c) => c.notNull())
        .addColumn('child', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('manifest_references_pk', ['repository', 'parent', 'child'])
        .execute();
      await db.schema.createIndex('manifest_references_child').on('manifest_references').columns(['repository', 'child']).execute();
      await db.schema
        .createTable('tags')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('name', orderedText(db), (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('tags_pk', ['repository', 'name'])
        .execute();
      await db.schema.createIndex('tags_digest').on('tags').columns(['repository', 'digest']).execute();
      await db.schema
        .createTable('uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
};
