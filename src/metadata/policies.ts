import type { Db } from './database.js';

export interface ProjectUsageRow {
  project: string;
  usedBytes: number;
  quotaBytes: number | null;
  /** When usage last reached the warning threshold (cleared when it falls below). */
  warnedAt: number | null;
}

/** Project lifecycle settings: retention policies (stored as JSON, validated by src/gc) and quotas. */
export interface PolicyStore {
  /** The stored policy JSON of `project`. */
  get(project: string): Promise<string | undefined>;
  /** Every stored policy, by project. */
  all(): Promise<Map<string, string>>;
  set(project: string, policy: string, now: number, by: string): Promise<void>;
  remove(project: string): Promise<boolean>;
  usage(project: string): Promise<ProjectUsageRow>;
  /** Sets (or, with null, removes) the quota; the next crossing of the threshold warns again. */
  setQuota(project: string, quotaBytes: number | null): Promise<ProjectUsageRow>;
}

export function policyStore(db: Db): PolicyStore {
  const usage = async (project: string): Promise<ProjectUsageRow> => {
    const row = await db.selectFrom('project_usage').selectAll().where('project', '=', project).executeTakeFirst();
    return {
      project,
      usedBytes: Number(row?.used_bytes ?? 0),
      quotaBytes: row?.quota_bytes === null || row?.quota_bytes === undefined ? null : Number(row.quota_bytes),
      warnedAt: row?.warned_at === null || row?.warned_at === undefined ? null : Number(row.warned_at),
    };
  };
  return {
    async get(project) {
      return (await db.selectFrom('project_policies').select('policy').where('project', '=', project).executeTakeFirst())?.policy;
    },
    async all() {
      const rows = await db.selectFrom('project_policies').select(['project', 'policy']).execute();
      return new Map(rows.map((r) => [r.project, r.policy]));
    },
    async set(project, policy, now, by) {
      await db
        .insertInto('project_policies')
        .values({ project, policy, updated_at: now, updated_by: by })
        .onConflict((c) => c.column('project').doUpdateSet({ policy, updated_at: now, updated_by: by }))
        .execute();
    },
    async remove(project) {
      const result = await db.deleteFrom('project_policies').where('project', '=', project).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    usage,
    async setQuota(project, quotaBytes) {
      await db
        .insertInto('project_usage')
        .values({ project, used_bytes: 0, quota_bytes: quotaBytes, warned_at: null })
        .onConflict((c) => c.column('project').doUpdateSet({ quota_bytes: quotaBytes, warned_at: null }))
        .execute();
      return usage(project);
    },
  };
}
