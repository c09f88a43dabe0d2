import type { Db } from './database.js';
import { precompiled } from './precompiled.js';

/** A project's stage rules and immutable tag patterns. */
export interface ProjectRules {
  project: string;
  /** Lowest role (in promotion rank) that may promote into the project; null: the default (see auth/policy.ts). */
  promoteMinRole: string | null;
  /** Only digests promoted into this project first may be promoted here. */
  promoteFrom: string | null;
  /** Tag patterns that never move and cannot be deleted (`*` for all). */
  immutableTags: string[];
  updatedBy: string;
  updatedAt: number;
}

export interface ProjectRulesStore {
  get(project: string): Promise<ProjectRules | undefined>;
  set(rules: ProjectRules): Promise<void>;
}

const rulesOf = precompiled((db, v: { project: string }) => db.selectFrom('project_rules').selectAll().where('project', '=', v.project));

export function projectRulesStore(db: Db): ProjectRulesStore {
  return {
    async get(project) {
      const row = await rulesOf.first(db, { project });
      if (!row) return undefined;
      return {
        project: row.project,
        promoteMinRole: row.promote_min_role,
        promoteFrom: row.promote_from,
        immutableTags: row.immutable_tags ? (JSON.parse(row.immutable_tags) as string[]) : [],
        updatedBy: row.updated_by,
        updatedAt: Number(row.updated_at),
      };
    },
    async set(r) {
      const values = {
        promote_min_role: r.promoteMinRole,
        promote_from: r.promoteFrom,
        immutable_tags: r.immutableTags.length > 0 ? JSON.stringify(r.immutableTags) : null,
        updated_by: r.updatedBy,
        updated_at: r.updatedAt,
      };
      await db
        .insertInto('project_rules')
        .values({ project: r.project, ...values })
        .onConflict((c) => c.column('project').doUpdateSet(values))
        .execute();
    },
  };
}
