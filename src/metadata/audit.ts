import type { AuthTables } from './auth-schema.js';
import type { Db } from './database.js';

/** One audit row: `result` is `success`, `failure`, `denied` or `rate-limited`; `detail` is JSON
 * with extra facts (never a secret). */
export type AuditEvent = AuthTables['audit_events'];

export interface AuditQuery {
  actor?: string;
  project?: string;
  /** Any of these actions. */
  actions?: string[];
  repository?: string;
  since?: number;
  until?: number;
  limit: number;
  offset: number;
}

export interface AuditStore {
  /** Writes the events in one statement (one commit, one fsync, however many). */
  append(events: AuditEvent[]): Promise<void>;
  /** Newest first. */
  query(query: AuditQuery): Promise<{ events: AuditEvent[]; total: number }>;
  deleteOlderThan(time: number): Promise<number>;
}

export function auditStore(db: Db): AuditStore {
  return {
    async append(events) {
      // Chunked to stay under SQLite's bound-parameter limit (11 columns an event).
      for (let i = 0; i < events.length; i += 80) {
        await db.insertInto('audit_events').values(events.slice(i, i + 80)).execute();
      }
    },
    async query(q) {
      let base = db.selectFrom('audit_events');
      if (q.actor !== undefined) base = base.where('actor', '=', q.actor);
      if (q.project !== undefined) base = base.where('project', '=', q.project);
      if (q.actions !== undefined && q.actions.length > 0) base = base.where('action', 'in', q.actions);
      if (q.repository !== undefined) base = base.where('repository', '=', q.repository);
      if (q.since !== undefined) base = base.where('time', '>=', q.since);
      if (q.until !== undefined) base = base.where('time', '<', q.until);
      const rows = await base.selectAll().orderBy('time', 'desc').orderBy('id', 'desc').limit(q.limit).offset(q.offset).execute();
      const count = await base.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return { events: rows.map((r) => ({ ...r, time: Number(r.time) })), total: Number(count.n) };
    },
    async deleteOlderThan(time) {
      const result = await db.deleteFrom('audit_events').where('time', '<', time).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
