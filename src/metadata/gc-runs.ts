import type { Db } from './database.js';
import type { Database } from './schema.js';

export type GcRunRow = Database['gc_runs'];

/** The record of GC runs: one row per run, written when it starts and when it ends. */
export interface GcRunStore {
  start(run: Omit<GcRunRow, 'finished_at' | 'summary' | 'items' | 'error' | 'status'>): Promise<void>;
  finish(id: string, outcome: Pick<GcRunRow, 'finished_at' | 'status' | 'summary' | 'items' | 'error'>): Promise<void>;
  /** Runs still marked running: their holder crashed or lost the lease (call while holding it). */
  interruptRunning(now: number): Promise<number>;
  /** Newest first, without their item lists. */
  list(limit: number): Promise<Array<Omit<GcRunRow, 'items'>>>;
  get(id: string): Promise<GcRunRow | undefined>;
}

const summaryColumns = ['id', 'started_at', 'finished_at', 'status', 'dry_run', 'trigger', 'actor', 'project', 'grace_ms', 'summary', 'error'] as const;

export function gcRunStore(db: Db): GcRunStore {
  return {
    async start(run) {
      await db.insertInto('gc_runs').values({ ...run, status: 'running', finished_at: null, summary: null, items: null, error: null }).execute();
    },
    async finish(id, outcome) {
      await db.updateTable('gc_runs').set(outcome).where('id', '=', id).execute();
    },
    async interruptRunning(now) {
      const result = await db
        .updateTable('gc_runs')
        .set({ status: 'interrupted', finished_at: now, error: 'the process running it stopped before it finished' })
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    async list(limit) {
      return db.selectFrom('gc_runs').select(summaryColumns).orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    },
    async get(id) {
      return db.selectFrom('gc_runs').selectAll().where('id', '=', id).executeTakeFirst();
    },
  };
}
