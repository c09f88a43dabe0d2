import { sql } from 'kysely';
import type { AuthTables } from './auth-schema.js';
import { inlineWriter, type BackgroundWriter, type CompiledStatement } from './background-writer.js';
import type { Db } from './database.js';

/**
 * One audit row: `result` is `success`, `failure`, `denied` or `rate-limited`; `detail` is JSON
 * with extra facts (never a secret). `count` > 1: the row stands for that many pulls of one
 * manifest by one identity within one hour, from `first_time` to `time`.
 */
export type AuditEvent = AuthTables['audit_events'];

/** Pulls to add to an hourly audit row (created by the first batch that names its id). */
export type PullRow = AuditEvent & { first_time: number };

/** Pulls to add to a manifest's count, the latest at `time`. */
export interface ManifestPulls {
  repository: string;
  digest: string;
  count: number;
  time: number;
}

/** What one flush writes, in one transaction. */
export interface AuditBatch {
  events: AuditEvent[];
  pulls: PullRow[];
  manifests: ManifestPulls[];
}

export interface AuditQuery {
  actor?: string;
  project?: string;
  /** Any of these actions. */
  actions?: string[];
  repository?: string;
  /** Rows whose span [first_time, time] overlaps [since, until). */
  since?: number;
  until?: number;
  limit: number;
  offset: number;
}

export interface AuditStore {
  /** Writes the batch in one transaction (one commit), off the event loop where the database allows. */
  write(batch: AuditBatch): Promise<void>;
  /** Newest first. */
  query(query: AuditQuery): Promise<{ events: AuditEvent[]; total: number }>;
  deleteOlderThan(time: number): Promise<number>;
}

/** Rows per multi-row statement: 13 columns, well under SQLite's bound-parameter limit. */
const ROWS_PER_STATEMENT = 80;

const chunks = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

export function auditStore(db: Db, writer: BackgroundWriter = inlineWriter(db)): AuditStore {
  /** The statements of a batch, compiled here and run by the writer (maybe in another thread). */
  function statements(batch: AuditBatch): CompiledStatement[] {
    const out: CompiledStatement[] = [];
    for (const rows of chunks(batch.events, ROWS_PER_STATEMENT)) out.push(db.insertInto('audit_events').values(rows).compile());
    for (const rows of chunks(batch.pulls, ROWS_PER_STATEMENT)) {
      out.push(
        db
          .insertInto('audit_events')
          .values(rows)
          .onConflict((c) =>
            c.column('id').doUpdateSet({
              count: sql`audit_events.count + excluded.count`,
              time: sql`case when excluded.time > audit_events.time then excluded.time else audit_events.time end`,
              first_time: sql`case when excluded.first_time < audit_events.first_time then excluded.first_time else audit_events.first_time end`,
              source: sql`excluded.source`,
            }),
          )
          .compile(),
      );
    }
    for (const m of batch.manifests) {
      out.push(
        db
          .updateTable('manifests')
          .set({
            pull_count: sql`pull_count + ${m.count}`,
            last_pulled_at: sql`case when last_pulled_at is null or last_pulled_at < ${m.time} then ${m.time} else last_pulled_at end`,
          })
          .where('repository', '=', m.repository)
          .where('digest', '=', m.digest)
          .compile(),
      );
    }
    return out;
  }

  return {
    async write(batch) {
      await writer.write(statements(batch));
    },
    async query(q) {
      let base = db.selectFrom('audit_events');
      if (q.actor !== undefined) base = base.where('actor', '=', q.actor);
      if (q.project !== undefined) base = base.where('project', '=', q.project);
      if (q.actions !== undefined && q.actions.length > 0) base = base.where('action', 'in', q.actions);
      if (q.repository !== undefined) base = base.where('repository', '=', q.repository);
      if (q.since !== undefined) base = base.where('time', '>=', q.since);
      if (q.until !== undefined) base = base.where(sql<number>`coalesce(first_time, time)`, '<', q.until);
      const rows = await base.selectAll().orderBy('time', 'desc').orderBy('id', 'desc').limit(q.limit).offset(q.offset).execute();
      const count = await base.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return {
        events: rows.map((r) => ({ ...r, time: Number(r.time), count: Number(r.count), first_time: r.first_time === null ? null : Number(r.first_time) })),
        total: Number(count.n),
      };
    },
    async deleteOlderThan(time) {
      const result = await db.deleteFrom('audit_events').where('time', '<', time).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
