import { sql } from 'kysely';
import { projectOf } from '../oci/names.js';
import type { Db } from './database.js';
import { isPostgres } from './dialect.js';
import { precompiled } from './precompiled.js';

/** A warning is due when usage reaches this percentage of the quota (once, until it falls below). */
export const QUOTA_WARNING_PERCENT = 80;

/** What a new reference did to its project's usage (a digest new to the project). */
export interface UsageChange {
  project: string;
  digest: string;
  addedBytes: number;
  /** Usage after the change, and the quota (null: none). */
  usedBytes: number;
  quotaBytes: number | null;
  /** This change took usage to the warning threshold (the row now records the warning). */
  warn: boolean;
}

type Member = { project: string; digest: string };
// Locked on PostgreSQL against a remover's check (see `holdDigest`).
const findMember = precompiled((db, v: Member) => {
  const member = db.selectFrom('project_blobs').select('digest').where('project', '=', v.project).where('digest', '=', v.digest);
  return isPostgres(db) ? member.forShare() : member;
});
const insertMember = precompiled((db, v: Member & { size: number }) =>
  db.insertInto('project_blobs').values({ project: v.project, digest: v.digest, size: v.size }).onConflict((c) => c.columns(['project', 'digest']).doNothing()),
);
const addUsage = precompiled((db, v: { project: string; size: number }) =>
  db
    .insertInto('project_usage')
    .values({ project: v.project, used_bytes: v.size, quota_bytes: null, warned_at: null })
    .onConflict((c) => c.column('project').doUpdateSet({ used_bytes: sql<number>`project_usage.used_bytes + ${v.size}` }))
    .returning(['used_bytes', 'quota_bytes', 'warned_at']),
);

/**
 * Usage counts each digest once per project: `project_blobs` holds one row per digest that any
 * repository of the project links or holds as a manifest, and `project_usage.used_bytes` is the
 * sum of their sizes. Both change in the transaction that adds or removes the reference, so they
 * are exact under concurrency: a writer locks the membership row (or inserts it) and a remover
 * locks it before checking that nothing else in the project still references the digest.
 */
export async function holdDigest(db: Db, repository: string, digest: string, size: number, now: number): Promise<UsageChange | undefined> {
  const project = projectOf(repository);
  for (;;) {
    if (await findMember.first(db, { project, digest })) return undefined;
    // Taken by a concurrent writer meanwhile: it counted the digest; look again.
    if ((await insertMember.changes(db, { project, digest, size })) === 0) continue;
    const usage = (await addUsage.first(db, { project, size }))!;
    const usedBytes = Number(usage.used_bytes);
    const quotaBytes = usage.quota_bytes === null ? null : Number(usage.quota_bytes);
    const warn = quotaBytes !== null && usage.warned_at === null && usedBytes * 100 >= quotaBytes * QUOTA_WARNING_PERCENT;
    if (warn) await db.updateTable('project_usage').set({ warned_at: now }).where('project', '=', project).execute();
    return { project, digest, addedBytes: size, usedBytes, quotaBytes, warn };
  }
}

/**
 * After references were removed: each (repository, digest) whose project no longer references
 * the digest anywhere leaves the project's usage. Call inside the removing transaction.
 */
export async function releaseDigests(db: Db, removed: ReadonlyArray<{ repository: string; digest: string }>): Promise<void> {
  const byProject = new Map<string, Set<string>>();
  for (const { repository, digest } of removed) {
    const project = projectOf(repository);
    const digests = byProject.get(project) ?? new Set<string>();
    digests.add(digest);
    byProject.set(project, digests);
  }
  for (const project of [...byProject.keys()].sort()) {
    const digests = [...byProject.get(project)!].sort();
    for (let i = 0; i < digests.length; i += 200) await releaseChunk(db, project, digests.slice(i, i + 200));
  }
}

async function releaseChunk(db: Db, project: string, digests: string[]): Promise<void> {
  if (isPostgres(db)) {
    // Wait for writers that hold these rows; their references are visible to the next statement.
    await db.selectFrom('project_blobs').select('digest').where('project', '=', project).where('digest', 'in', digests).orderBy('digest').forUpdate().execute();
  }
  const inProject = (column: string) => sql<boolean>`(${sql.ref(column)} = ${project} or substr(${sql.ref(column)}, 1, ${project.length + 1}) = ${project + '/'})`;
  const released = await db
    .deleteFrom('project_blobs')
    .where('project', '=', project)
    .where('digest', 'in', digests)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('repository_blobs as l').select('l.digest').whereRef('l.digest', '=', 'project_blobs.digest').where(inProject('l.repository')))),
    )
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('manifests as m').select('m.digest').whereRef('m.digest', '=', 'project_blobs.digest').where(inProject('m.repository')))),
    )
    .returning('size')
    .execute();
  const bytes = released.reduce((sum, row) => sum + Number(row.size), 0);
  if (bytes === 0) return;
  await db
    .updateTable('project_usage')
    .set({
      used_bytes: sql<number>`used_bytes - ${bytes}`,
      // Below the threshold again: the next crossing warns again.
      warned_at: sql<number | null>`case when quota_bytes is not null and (used_bytes - ${bytes}) * 100 < quota_bytes * ${QUOTA_WARNING_PERCENT} then null else warned_at end`,
    })
    .where('project', '=', project)
    .execute();
}
