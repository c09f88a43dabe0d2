import { sql } from 'kysely';
import type { Db } from './database.js';
import type { ReplicationTables } from './replication-schema.js';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type RunTrigger = 'schedule' | 'manual' | 'push' | 'promotion';
export type ItemStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface RunRecord {
  id: string;
  ruleId: string;
  trigger: RunTrigger;
  actor: string;
  status: RunStatus;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  /** How many times an instance took the run over after its runner stopped (a crash, a restart). */
  resumed: number;
  imagesTotal: number;
  imagesDone: number;
  imagesSkipped: number;
  imagesFailed: number;
  bytes: number;
  blobsCopied: number;
  blobsSkipped: number;
  error: string | null;
}

/** One image of a run: a tag (or a digest) of a repository. */
export interface RunItem {
  seq: number;
  repository: string;
  reference: string;
  digest: string | null;
  status: ItemStatus;
  bytes: number;
  attempts: number;
  error: string | null;
  updatedAt: number;
}

/** Counters a runner adds to while it works. */
export interface RunProgress {
  bytes?: number;
  blobsCopied?: number;
  blobsSkipped?: number;
  imagesDone?: number;
  imagesSkipped?: number;
  imagesFailed?: number;
}

/** The execution log of replication rules: runs, their images, their counters. */
export interface ReplicationRunStore {
  create(run: { id: string; ruleId: string; trigger: RunTrigger; actor: string; createdAt: number }): Promise<void>;
  get(id: string): Promise<RunRecord | undefined>;
  /** Newest first; `ruleId` narrows to one rule. */
  list(query: { ruleId?: string; limit: number; offset: number }): Promise<{ runs: RunRecord[]; total: number }>;
  /** Unfinished runs (queued or running) of a rule, oldest first. */
  unfinished(ruleId: string): Promise<RunRecord[]>;
  /** Rules with an unfinished run. */
  rulesWithUnfinished(): Promise<string[]>;
  /** Marks the run running (again: `resumed` counts the takeovers). */
  start(id: string, now: number): Promise<void>;
  /** Appends images to the run's plan (pending, or failed with `error` when they could not even be listed). */
  addItems(id: string, items: ReadonlyArray<{ repository: string; reference: string; digest?: string | null; error?: string }>, now: number): Promise<void>;
  /** Images not finished yet (pending, or running when a runner stopped), in plan order. */
  openItems(id: string): Promise<RunItem[]>;
  items(id: string, query: { limit: number; offset: number }): Promise<{ items: RunItem[]; total: number }>;
  /** How many images failed, and the first of them. */
  failures(id: string): Promise<{ count: number; first: RunItem | undefined }>;
  setItem(id: string, seq: number, change: Partial<Pick<RunItem, 'status' | 'digest' | 'bytes' | 'attempts' | 'error'>>, now: number): Promise<void>;
  addProgress(id: string, progress: RunProgress, now: number): Promise<void>;
  /** Ends the run; its image counters are recounted from its items. */
  finish(id: string, status: 'succeeded' | 'failed', error: string | null, now: number): Promise<void>;
  /** Deletes finished runs (and their items) older than `before`. */
  purge(before: number): Promise<number>;
}

type RunRow = ReplicationTables['replication_runs'];
type ItemRow = ReplicationTables['replication_run_items'];

const toRun = (row: RunRow): RunRecord => ({
  id: row.id,
  ruleId: row.rule_id,
  trigger: row.trigger as RunTrigger,
  actor: row.actor,
  status: row.status as RunStatus,
  createdAt: Number(row.created_at),
  startedAt: row.started_at === null ? null : Number(row.started_at),
  finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  updatedAt: Number(row.updated_at),
  resumed: Number(row.resumed),
  imagesTotal: Number(row.images_total),
  imagesDone: Number(row.images_done),
  imagesSkipped: Number(row.images_skipped),
  imagesFailed: Number(row.images_failed),
  bytes: Number(row.bytes),
  blobsCopied: Number(row.blobs_copied),
  blobsSkipped: Number(row.blobs_skipped),
  error: row.error,
});

const toItem = (row: ItemRow): RunItem => ({
  seq: Number(row.seq),
  repository: row.repository,
  reference: row.reference,
  digest: row.digest,
  status: row.status as ItemStatus,
  bytes: Number(row.bytes),
  attempts: Number(row.attempts),
  error: row.error,
  updatedAt: Number(row.updated_at),
});

const UNFINISHED = ['queued', 'running'];

export function replicationRunStore(db: Db): ReplicationRunStore {
  return {
    async create(run) {
      await db
        .insertInto('replication_runs')
        .values({
          id: run.id,
          rule_id: run.ruleId,
          trigger: run.trigger,
          actor: run.actor,
          status: 'queued',
          created_at: run.createdAt,
          started_at: null,
          finished_at: null,
          updated_at: run.createdAt,
          resumed: 0,
          images_total: 0,
          images_done: 0,
          images_skipped: 0,
          images_failed: 0,
          bytes: 0,
          blobs_copied: 0,
          blobs_skipped: 0,
          error: null,
        })
        .execute();
    },
    async get(id) {
      const row = await db.selectFrom('replication_runs').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toRun(row);
    },
    async list({ ruleId, limit, offset }) {
      let base = db.selectFrom('replication_runs');
      if (ruleId !== undefined) base = base.where('rule_id', '=', ruleId);
      const rows = await base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).offset(offset).execute();
      const count = await base.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return { runs: rows.map(toRun), total: Number(count.n) };
    },
    async unfinished(ruleId) {
      const rows = await db.selectFrom('replication_runs').selectAll().where('rule_id', '=', ruleId).where('status', 'in', UNFINISHED).orderBy('created_at').orderBy('id').execute();
      return rows.map(toRun);
    },
    async rulesWithUnfinished() {
      return (await db.selectFrom('replication_runs').select('rule_id').distinct().where('status', 'in', UNFINISHED).execute()).map((r) => r.rule_id);
    },
    async start(id, now) {
      await db
        .updateTable('replication_runs')
        .set({
          resumed: sql<number>`case when status = 'running' then resumed + 1 else resumed end`,
          status: 'running',
          started_at: sql<number>`coalesce(started_at, ${now})`,
          updated_at: now,
        })
        .where('id', '=', id)
        .execute();
    },
    async addItems(id, items, now) {
      if (items.length === 0) return;
      const last = await db.selectFrom('replication_run_items').select((e) => e.fn.max('seq').as('seq')).where('run_id', '=', id).executeTakeFirst();
      let seq = last?.seq === null || last?.seq === undefined ? 0 : Number(last.seq) + 1;
      const rows = items.map((item) => ({
        run_id: id,
        seq: seq++,
        repository: item.repository,
        reference: item.reference,
        digest: item.digest ?? null,
        status: item.error === undefined ? 'pending' : 'failed',
        bytes: 0,
        attempts: 0,
        error: item.error ?? null,
        updated_at: now,
      }));
      // Chunked to stay under SQLite's bound-parameter limit (10 columns an item).
      for (let i = 0; i < rows.length; i += 90) await db.insertInto('replication_run_items').values(rows.slice(i, i + 90)).execute();
      await db.updateTable('replication_runs').set({ images_total: sql<number>`images_total + ${items.length}`, updated_at: now }).where('id', '=', id).execute();
    },
    async openItems(id) {
      const rows = await db.selectFrom('replication_run_items').selectAll().where('run_id', '=', id).where('status', 'in', ['pending', 'running']).orderBy('seq').execute();
      return rows.map(toItem);
    },
    async items(id, { limit, offset }) {
      const base = db.selectFrom('replication_run_items').where('run_id', '=', id);
      const rows = await base.selectAll().orderBy('seq').limit(limit).offset(offset).execute();
      const count = await base.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return { items: rows.map(toItem), total: Number(count.n) };
    },
    async failures(id) {
      const base = db.selectFrom('replication_run_items').where('run_id', '=', id).where('status', '=', 'failed');
      const first = await base.selectAll().orderBy('seq').limit(1).executeTakeFirst();
      const count = await base.select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return { count: Number(count.n), first: first && toItem(first) };
    },
    async setItem(id, seq, change, now) {
      await db
        .updateTable('replication_run_items')
        .set({
          ...(change.status !== undefined ? { status: change.status } : {}),
          ...(change.digest !== undefined ? { digest: change.digest } : {}),
          ...(change.bytes !== undefined ? { bytes: change.bytes } : {}),
          ...(change.attempts !== undefined ? { attempts: change.attempts } : {}),
          ...(change.error !== undefined ? { error: change.error } : {}),
          updated_at: now,
        })
        .where('run_id', '=', id)
        .where('seq', '=', seq)
        .execute();
    },
    async addProgress(id, p, now) {
      const add = (column: 'bytes' | 'blobs_copied' | 'blobs_skipped' | 'images_done' | 'images_skipped' | 'images_failed', value: number | undefined) =>
        value ? { [column]: sql<number>`${sql.ref(column)} + ${value}` } : {};
      await db
        .updateTable('replication_runs')
        .set({
          ...add('bytes', p.bytes),
          ...add('blobs_copied', p.blobsCopied),
          ...add('blobs_skipped', p.blobsSkipped),
          ...add('images_done', p.imagesDone),
          ...add('images_skipped', p.imagesSkipped),
          ...add('images_failed', p.imagesFailed),
          updated_at: now,
        })
        .where('id', '=', id)
        .execute();
    },
    async finish(id, status, error, now) {
      // The image counters from the items themselves: exact even if a progress write was lost.
      const counts = await db.selectFrom('replication_run_items').select(['status', (e) => e.fn.countAll<number>().as('n')]).where('run_id', '=', id).groupBy('status').execute();
      const count = (s: ItemStatus) => Number(counts.find((c) => c.status === s)?.n ?? 0);
      await db
        .updateTable('replication_runs')
        .set({
          status,
          error,
          finished_at: now,
          updated_at: now,
          images_total: counts.reduce((sum, c) => sum + Number(c.n), 0),
          images_done: count('done'),
          images_skipped: count('skipped'),
          images_failed: count('failed'),
        })
        .where('id', '=', id)
        .execute();
    },
    async purge(before) {
      const old = db.selectFrom('replication_runs').select('id').where('finished_at', '<', before);
      await db.deleteFrom('replication_run_items').where('run_id', 'in', old).execute();
      const result = await db.deleteFrom('replication_runs').where('finished_at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
