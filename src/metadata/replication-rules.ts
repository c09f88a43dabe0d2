import type { Db } from './database.js';
import { precompiled } from './precompiled.js';
import type { ReplicationTables } from './replication-schema.js';

export interface RuleRecord {
  id: string;
  name: string;
  kind: 'pull' | 'push';
  enabled: boolean;
  /** The rule's definition as JSON (src/replication/rule-spec.ts); never a secret. */
  spec: string;
  /** The target's credentials, sealed (src/lib/secret-box.ts), or null. */
  credentials: string | null;
  /** Runs on a schedule every this many seconds, or null (by trigger and by hand only). */
  intervalSeconds: number | null;
  nextRunAt: number | null;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
}

export interface QueuedImage {
  id: string;
  ruleId: string;
  repository: string;
  /** A tag, or a digest for an untagged push. */
  reference: string;
  trigger: 'push' | 'promotion';
  actor: string;
  createdAt: number;
}

/** Replication rules, and the images push and promotion triggers queued for them. */
export interface ReplicationRuleStore {
  create(rule: RuleRecord): Promise<void>;
  /** Replaces the rule's row; false when it does not exist. */
  update(rule: RuleRecord): Promise<boolean>;
  /** Removes the rule with its pins, queue and upload state (its runs stay in the log). */
  remove(id: string): Promise<boolean>;
  get(id: string): Promise<RuleRecord | undefined>;
  getByName(name: string): Promise<RuleRecord | undefined>;
  list(): Promise<RuleRecord[]>;
  /** Moves a scheduled rule's next run; true only for the caller whose `expected` still held. */
  claimSchedule(id: string, expected: number, next: number): Promise<boolean>;
  /** Enabled rules with a schedule due at `now`. */
  due(now: number): Promise<string[]>;
  enqueue(image: QueuedImage): Promise<void>;
  /** Queued images of a rule, oldest first. */
  queued(ruleId: string, limit: number): Promise<QueuedImage[]>;
  dequeue(ids: readonly string[]): Promise<void>;
  /** Rules that have queued images. */
  withQueue(): Promise<string[]>;
}

type RuleRow = ReplicationTables['replication_rules'];

const toRule = (row: RuleRow): RuleRecord => ({
  id: row.id,
  name: row.name,
  kind: row.kind === 'push' ? 'push' : 'pull',
  enabled: Number(row.enabled) === 1,
  spec: row.spec,
  credentials: row.credentials,
  intervalSeconds: row.interval_seconds === null ? null : Number(row.interval_seconds),
  nextRunAt: row.next_run_at === null ? null : Number(row.next_run_at),
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
  updatedBy: row.updated_by,
});

const toRow = (rule: RuleRecord): RuleRow => ({
  id: rule.id,
  name: rule.name,
  kind: rule.kind,
  enabled: rule.enabled ? 1 : 0,
  spec: rule.spec,
  credentials: rule.credentials,
  interval_seconds: rule.intervalSeconds,
  next_run_at: rule.nextRunAt,
  created_at: rule.createdAt,
  updated_at: rule.updatedAt,
  updated_by: rule.updatedBy,
});

// Read by every push (triggers match it): precompiled.
const allRules = precompiled((db, _: object) => db.selectFrom('replication_rules').selectAll().orderBy('name'));

export function replicationRuleStore(db: Db): ReplicationRuleStore {
  return {
    async create(rule) {
      await db.insertInto('replication_rules').values(toRow(rule)).execute();
    },
    async update(rule) {
      const { id, created_at: _created, ...rest } = toRow(rule);
      const result = await db.updateTable('replication_rules').set(rest).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async remove(id) {
      await db.deleteFrom('replication_pins').where('rule_id', '=', id).execute();
      await db.deleteFrom('replication_queue').where('rule_id', '=', id).execute();
      await db.deleteFrom('replication_uploads').where('rule_id', '=', id).execute();
      const result = await db.deleteFrom('replication_rules').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async get(id) {
      const row = await db.selectFrom('replication_rules').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toRule(row);
    },
    async getByName(name) {
      const row = await db.selectFrom('replication_rules').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toRule(row);
    },
    async list() {
      return (await allRules.rows(db, {})).map(toRule);
    },
    async claimSchedule(id, expected, next) {
      const result = await db.updateTable('replication_rules').set({ next_run_at: next }).where('id', '=', id).where('next_run_at', '=', expected).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async due(now) {
      const rows = await db
        .selectFrom('replication_rules')
        .select('id')
        .where('enabled', '=', 1)
        .where('next_run_at', 'is not', null)
        .where('next_run_at', '<=', now)
        .execute();
      return rows.map((r) => r.id);
    },
    async enqueue(image) {
      await db
        .insertInto('replication_queue')
        .values({ id: image.id, rule_id: image.ruleId, repository: image.repository, reference: image.reference, trigger: image.trigger, actor: image.actor, created_at: image.createdAt })
        .execute();
    },
    async queued(ruleId, limit) {
      const rows = await db.selectFrom('replication_queue').selectAll().where('rule_id', '=', ruleId).orderBy('created_at').orderBy('id').limit(limit).execute();
      return rows.map((r) => ({
        id: r.id,
        ruleId: r.rule_id,
        repository: r.repository,
        reference: r.reference,
        trigger: r.trigger === 'promotion' ? 'promotion' : 'push',
        actor: r.actor,
        createdAt: Number(r.created_at),
      }));
    },
    async dequeue(ids) {
      for (let i = 0; i < ids.length; i += 500) await db.deleteFrom('replication_queue').where('id', 'in', ids.slice(i, i + 500)).execute();
    },
    async withQueue() {
      return (await db.selectFrom('replication_queue').select('rule_id').distinct().execute()).map((r) => r.rule_id);
    },
  };
}
