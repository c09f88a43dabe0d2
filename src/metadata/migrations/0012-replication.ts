import type { Kysely, Migration } from 'kysely';

/**
 * Replication (docs/replication.md): pull rules that keep chosen upstream images in the mirror
 * cache, push rules that copy a project to another registry, and the record of their runs.
 *
 * - `replication_rules`: one row a rule; `spec` is its JSON definition (no secrets), `credentials`
 *   the target's credentials sealed with the secret box (never stored in clear).
 * - `replication_runs` + `replication_run_items`: each run's plan, one item an image (a tag or a
 *   digest), with its state and byte counts. An unfinished run is resumed, not restarted: items
 *   already done stay done.
 * - `replication_uploads`: where a push's chunked upload of a blob stands at the target, so a
 *   restarted instance continues it from its offset.
 * - `replication_pins`: what pull rules keep (each tag's index, children and blobs): the mirror
 *   cache's eviction never picks a pinned (repository, digest).
 * - `replication_queue`: images a push or a promotion asked a push rule to copy, written in the
 *   transaction of that change, taken into the rule's next run.
 */
export const replicationTables: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('replication_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('credentials', 'text')
      .addColumn('interval_seconds', 'bigint')
      .addColumn('next_run_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('replication_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('rule_id', 'text', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('resumed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('images_total', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('images_done', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('images_skipped', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('images_failed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('blobs_copied', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('blobs_skipped', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('replication_runs_rule').on('replication_runs').columns(['rule_id', 'created_at']).execute();
    await db.schema.createIndex('replication_runs_status').on('replication_runs').column('status').execute();

    await db.schema
      .createTable('replication_run_items')
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('reference', 'text', (c) => c.notNull())
      .addColumn('digest', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('replication_run_items_pk', ['run_id', 'seq'])
      .execute();

    await db.schema
      .createTable('replication_uploads')
      .addColumn('rule_id', 'text', (c) => c.notNull())
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('location', 'text', (c) => c.notNull())
      .addColumn('uploaded_bytes', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('replication_uploads_pk', ['rule_id', 'repository', 'digest'])
      .execute();

    await db.schema
      .createTable('replication_pins')
      .addColumn('rule_id', 'text', (c) => c.notNull())
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('replication_pins_pk', ['rule_id', 'repository', 'tag', 'digest'])
      .execute();
    // Eviction asks "is (repository, digest) pinned?" for every candidate.
    await db.schema.createIndex('replication_pins_content').on('replication_pins').columns(['repository', 'digest']).execute();

    await db.schema
      .createTable('replication_queue')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('rule_id', 'text', (c) => c.notNull())
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('reference', 'text', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('replication_queue_rule').on('replication_queue').columns(['rule_id', 'created_at']).execute();
  },
};
