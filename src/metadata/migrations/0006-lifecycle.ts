import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * Storage lifecycle (docs/gc.md): the state of each blob's bytes, when each blob, link and
 * manifest was last touched (the grace period's anchor), per-project usage with a membership row
 * per distinct digest (quotas), project policies (retention) and the record of GC runs.
 *
 * - `blobs.state`: `pending` (a writer is putting the bytes in place), `live` (bytes present),
 *   `deleting` (a deleter owns the row and is deleting the bytes: `deleting_by` is `gc` for one
 *   holding the GC lease, `eviction` for the mirror cache's). Only the owner of a `deleting` row
 *   deletes bytes; see the safety argument in docs/gc.md.
 * - `touched_at` on blobs, links and manifests: the last time anything uploaded, mounted, linked
 *   or pushed it (a re-push refreshes it); GC leaves younger rows alone.
 */
export const lifecycleTables: Migration = {
  async up(db: Kysely<unknown>) {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter;

    await db.schema.alterTable('blobs').addColumn('state', 'text', (c) => c.notNull().defaultTo('live')).execute();
    await db.schema.alterTable('blobs').addColumn('touched_at', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('blobs').addColumn('deleting_since', 'bigint').execute();
    await db.schema.alterTable('blobs').addColumn('deleting_by', 'text').execute();
    await sql`update blobs set touched_at = created_at`.execute(db);
    // Rows not live are few: an index of just those finds a crashed run's leftovers at once.
    await db.schema.createIndex('blobs_not_live').on('blobs').column('state').where(sql.ref('state'), '<>', 'live').execute();

    await db.schema.alterTable('repository_blobs').addColumn('touched_at', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await sql`update repository_blobs set touched_at = created_at`.execute(db);
    await db.schema.alterTable('manifests').addColumn('touched_at', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await sql`update manifests set touched_at = created_at`.execute(db);

    await db.schema
      .createTable('project_blobs')
      .addColumn('project', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('project_blobs_pk', ['project', 'digest'])
      .execute();
    await db.schema
      .createTable('project_usage')
      .addColumn('project', 'text', (c) => c.primaryKey())
      .addColumn('used_bytes', 'bigint', (c) => c.notNull())
      .addColumn('quota_bytes', 'bigint')
      .addColumn('warned_at', 'bigint')
      .execute();
    // Usage of what is stored already: each distinct digest a project's repositories link or
    // hold as a manifest, once.
    const project = postgres
      ? sql`split_part(x.repository, '/', 1)`
      : sql`case when instr(x.repository, '/') > 0 then substr(x.repository, 1, instr(x.repository, '/') - 1) else x.repository end`;
    await sql`
      insert into project_blobs (project, digest, size)
      select distinct ${project}, x.digest, b.size
      from (select repository, digest from repository_blobs union select repository, digest from manifests) x
      join blobs b on b.digest = x.digest`.execute(db);
    await sql`insert into project_usage (project, used_bytes) select project, sum(size) from project_blobs group by project`.execute(db);

    await db.schema
      .createTable('project_policies')
      .addColumn('project', 'text', (c) => c.primaryKey())
      .addColumn('policy', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('gc_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('dry_run', 'integer', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('project', 'text')
      .addColumn('grace_ms', 'bigint', (c) => c.notNull())
      .addColumn('summary', 'text')
      .addColumn('items', 'text')
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('gc_runs_started').on('gc_runs').column('started_at').execute();
  },
};
