import type { Db } from './database.js';

export interface PinnedTag {
  repository: string;
  tag: string;
  /** Digests pinned for the tag: its manifest (index), the children kept, their blobs. */
  digests: number;
}

/**
 * What pull rules keep in the mirror cache. A pin names a (repository, digest) of a mirror
 * repository for one tag of one rule; the cache's eviction skips every pinned pair. Pins are
 * data, not a flag on the cache entry, so several rules (or tags) may pin the same content and it
 * stays until the last lets go.
 */
export interface ReplicationPinStore {
  /** Adds pins (kept pins stay): before content is fetched, so eviction never races the fetch. */
  pin(ruleId: string, repository: string, tag: string, digests: readonly string[]): Promise<void>;
  /** Makes the tag's pins exactly `digests` (what it holds now). Run inside a transaction. */
  replace(ruleId: string, repository: string, tag: string, digests: readonly string[]): Promise<void>;
  /** Unpins the rule's tags of `repository` that are not in `keep`. */
  keepTags(ruleId: string, repository: string, keep: readonly string[]): Promise<void>;
  /** Unpins the rule's repositories that are not in `keep` (the rule changed). */
  keepRepositories(ruleId: string, keep: readonly string[]): Promise<void>;
  /** The rule's pinned tags. */
  list(ruleId: string): Promise<PinnedTag[]>;
  isPinned(repository: string, digest: string): Promise<boolean>;
}

/** A push's chunked upload of a blob at the target, as far as it got. */
export interface UploadProgress {
  location: string;
  uploadedBytes: number;
}

/** Where chunked pushes stand at their targets, so a restarted runner continues them. */
export interface ReplicationUploadStore {
  get(ruleId: string, repository: string, digest: string): Promise<UploadProgress | undefined>;
  save(ruleId: string, repository: string, digest: string, progress: UploadProgress, now: number): Promise<void>;
  remove(ruleId: string, repository: string, digest: string): Promise<void>;
  /** Other repositories of `project` that hold `digest` (at most `limit`): a push may mount from their copies. */
  mountSources(project: string, digest: string, limit: number): Promise<string[]>;
}

const CHUNK = 400;

export function replicationPinStore(db: Db): ReplicationPinStore {
  async function unpinTags(ruleId: string, repository: string, tags: readonly string[]): Promise<void> {
    for (let i = 0; i < tags.length; i += CHUNK) {
      await db.deleteFrom('replication_pins').where('rule_id', '=', ruleId).where('repository', '=', repository).where('tag', 'in', tags.slice(i, i + CHUNK)).execute();
    }
  }
  const pin: ReplicationPinStore['pin'] = async (ruleId, repository, tag, digests) => {
    const rows = [...new Set(digests)].map((digest) => ({ rule_id: ruleId, repository, tag, digest }));
    for (let i = 0; i < rows.length; i += CHUNK / 4) {
      await db
        .insertInto('replication_pins')
        .values(rows.slice(i, i + CHUNK / 4))
        .onConflict((c) => c.columns(['rule_id', 'repository', 'tag', 'digest']).doNothing())
        .execute();
    }
  };
  return {
    pin,
    async replace(ruleId, repository, tag, digests) {
      await unpinTags(ruleId, repository, [tag]);
      await pin(ruleId, repository, tag, digests);
    },
    async keepTags(ruleId, repository, keep) {
      const pinned = await db.selectFrom('replication_pins').select('tag').distinct().where('rule_id', '=', ruleId).where('repository', '=', repository).execute();
      const kept = new Set(keep);
      await unpinTags(ruleId, repository, pinned.map((p) => p.tag).filter((t) => !kept.has(t)));
    },
    async keepRepositories(ruleId, keep) {
      const pinned = await db.selectFrom('replication_pins').select('repository').distinct().where('rule_id', '=', ruleId).execute();
      const kept = new Set(keep);
      for (const { repository } of pinned) {
        if (!kept.has(repository)) await db.deleteFrom('replication_pins').where('rule_id', '=', ruleId).where('repository', '=', repository).execute();
      }
    },
    async list(ruleId) {
      const rows = await db
        .selectFrom('replication_pins')
        .select(['repository', 'tag', (e) => e.fn.countAll<number>().as('n')])
        .where('rule_id', '=', ruleId)
        .groupBy(['repository', 'tag'])
        .orderBy('repository')
        .orderBy('tag')
        .execute();
      return rows.map((r) => ({ repository: r.repository, tag: r.tag, digests: Number(r.n) }));
    },
    async isPinned(repository, digest) {
      const row = await db.selectFrom('replication_pins').select('digest').where('repository', '=', repository).where('digest', '=', digest).limit(1).executeTakeFirst();
      return row !== undefined;
    },
  };
}

export function replicationUploadStore(db: Db): ReplicationUploadStore {
  return {
    async get(ruleId, repository, digest) {
      const row = await db
        .selectFrom('replication_uploads')
        .select(['location', 'uploaded_bytes'])
        .where('rule_id', '=', ruleId)
        .where('repository', '=', repository)
        .where('digest', '=', digest)
        .executeTakeFirst();
      return row && { location: row.location, uploadedBytes: Number(row.uploaded_bytes) };
    },
    async save(ruleId, repository, digest, { location, uploadedBytes }, now) {
      await db
        .insertInto('replication_uploads')
        .values({ rule_id: ruleId, repository, digest, location, uploaded_bytes: uploadedBytes, updated_at: now })
        .onConflict((c) => c.columns(['rule_id', 'repository', 'digest']).doUpdateSet({ location, uploaded_bytes: uploadedBytes, updated_at: now }))
        .execute();
    },
    async remove(ruleId, repository, digest) {
      await db.deleteFrom('replication_uploads').where('rule_id', '=', ruleId).where('repository', '=', repository).where('digest', '=', digest).execute();
    },
    async mountSources(project, digest, limit) {
      const rows = await db
        .selectFrom('repository_blobs')
        .select('repository')
        .where('digest', '=', digest)
        .where('repository', 'like', `${project}/%`)
        .orderBy('repository')
        .limit(limit)
        .execute();
      // `_` is a LIKE wildcard and may be part of a project name: check the prefix exactly.
      return rows.map((r) => r.repository).filter((r) => r.startsWith(`${project}/`));
    },
  };
}
