import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The delivery flow: the event outbox and webhook endpoints/deliveries, promotions, per-project
 * stage rules and immutable tag patterns, every digest each tag has pointed at, and the
 * base-image lineage index (see delivery-schema.ts). Existing tags seed the tag history.
 */
export const deliveryTables: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('project', 'text')
      .addColumn('payload', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('events_time').on('events').column('time').execute();
    await db.schema
      .createTable('webhook_endpoints')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project', 'text')
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('event_types', 'text', (c) => c.notNull())
      .addColumn('format', 'text', (c) => c.notNull())
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webhook_endpoints_project').on('webhook_endpoints').column('project').execute();
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('endpoint_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('claimed_by', 'text')
      .addColumn('claim_expires_at', 'bigint')
      .addColumn('last_attempt_at', 'bigint')
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('delivered_at', 'bigint')
      .addColumn('redelivery_of', 'text')
      .execute();
    await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('webhook_deliveries_endpoint').on('webhook_deliveries').columns(['endpoint_id', 'created_at']).execute();
    await db.schema.createIndex('webhook_deliveries_event').on('webhook_deliveries').column('event_id').execute();
    await db.schema
      .createTable('encryption_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('promotions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('source_repository', 'text', (c) => c.notNull())
      .addColumn('source_reference', 'text', (c) => c.notNull())
      .addColumn('target_project', 'text', (c) => c.notNull())
      .addColumn('target_repository', 'text', (c) => c.notNull())
      .addColumn('target_tag', 'text')
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('note', 'text')
      .execute();
    await db.schema.createIndex('promotions_digest').on('promotions').columns(['digest', 'time']).execute();
    await db.schema.createIndex('promotions_target').on('promotions').columns(['target_project', 'digest']).execute();
    await db.schema
      .createTable('tag_history')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('actor', 'text')
      .addColumn('via', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tag_history_tag').on('tag_history').columns(['repository', 'tag', 'time']).execute();
    await db.schema.createIndex('tag_history_digest').on('tag_history').column('digest').execute();
    await db.schema
      .createTable('project_rules')
      .addColumn('project', 'text', (c) => c.primaryKey())
      .addColumn('promote_min_role', 'text')
      .addColumn('promote_from', 'text')
      .addColumn('immutable_tags', 'text')
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('lineage_images')
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('chain_id', 'text', (c) => c.notNull())
      .addColumn('layer_count', 'integer', (c) => c.notNull())
      .addColumn('base_digest', 'text')
      .addColumn('base_repository', 'text')
      .addColumn('base_name', 'text')
      .addColumn('base_source', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('lineage_images_pk', ['repository', 'digest'])
      .execute();
    await db.schema.createIndex('lineage_images_chain').on('lineage_images').column('chain_id').execute();
    await db.schema.createIndex('lineage_images_base').on('lineage_images').column('base_digest').execute();
    await db.schema
      .createTable('lineage_prefixes')
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('depth', 'integer', (c) => c.notNull())
      .addColumn('chain_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('lineage_prefixes_pk', ['repository', 'digest', 'depth'])
      .execute();
    await db.schema.createIndex('lineage_prefixes_chain').on('lineage_prefixes').column('chain_id').execute();
    // What tags point at now is the first entry of their history.
    await sql`insert into tag_history (id, repository, tag, digest, "time", actor, via)
      select 'm-' || repository || ':' || name, repository, name, digest, updated_at, null, 'migration' from tags`.execute(db);
  },
};
