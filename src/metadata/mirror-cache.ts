import { sql } from 'kysely';
import type { Db } from './database.js';
import { releaseDigests } from './project-usage.js';

export interface MirrorCacheEntry {
  /** The mirror repository that serves it (`hub/library/alpine`). */
  repository: string;
  digest: string;
  kind: 'blob' | 'manifest';
  size: number;
  /** Name of the upstream it came from. */
  upstream: string;
}

export interface MirrorCacheVictim {
  repository: string;
  digest: string;
  kind: 'blob' | 'manifest';
  size: number;
}

/**
 * The mirror's index: what is cached for which mirror repository, when it was last pulled (LRU)
 * and when each tag was last checked upstream (TTL). The manifests, tags and blob links of mirror
 * repositories themselves live in the ordinary registry tables.
 */
export interface MirrorCacheStore {
  /** Records a cached entry, or refreshes its pull time when it is already known. */
  record(entry: MirrorCacheEntry, now: number): Promise<void>;
  /** Marks an entry as pulled now, unless it was within the last `granularityMs` (fewer writes). */
  touch(repository: string, digest: string, now: number, granularityMs: number): Promise<void>;
  /** When the tag was last confirmed against the upstream, if ever. */
  tagCheckedAt(repository: string, tag: string): Promise<number | undefined>;
  markTagChecked(repository: string, tag: string, now: number): Promise<void>;
  /** Whether a cached manifest of `repository` references `digest` (the upstream vouched for it). */
  referencedByManifest(repository: string, digest: string): Promise<boolean>;
  /** Bytes the cache holds, each digest counted once; pinned content is not counted. */
  totalBytes(): Promise<number>;
  /** The least recently pulled entries, oldest first; pinned content is never among them. */
  leastRecentlyPulled(limit: number): Promise<MirrorCacheVictim[]>;
  /**
   * Removes an entry and the registry rows that made it visible in its mirror repository (blob
   * link, or manifest with its tags). The bytes stay: the caller hands the digest to the one
   * delete path, which keeps them while anything else references them. Run inside a transaction.
   */
  evict(repository: string, digest: string, kind: 'blob' | 'manifest'): Promise<void>;
}

export function mirrorCacheStore(db: Db): MirrorCacheStore {
  // Pull rules pin content (replication-content.ts): it is neither counted against the limit
  // nor ever a candidate, wherever else it is cached too (evicting a copy would free nothing).
  const pinnedDigests = () => db.selectFrom('replication_pins').select('digest');
  return {
    async record(entry, now) {
      await db
        .insertInto('mirror_cache')
        .values({ ...entry, created_at: now, last_pulled_at: now })
        .onConflict((c) => c.columns(['repository', 'digest']).doUpdateSet({ last_pulled_at: now }))
        .execute();
    },
    async touch(repository, digest, now, granularityMs) {
      await db
        .updateTable('mirror_cache')
        .set({ last_pulled_at: now })
        .where('repository', '=', repository)
        .where('digest', '=', digest)
        .where('last_pulled_at', '<', now - granularityMs)
        .execute();
    },
    async tagCheckedAt(repository, tag) {
      const row = await db.selectFrom('mirror_tags').select('checked_at').where('repository', '=', repository).where('tag', '=', tag).executeTakeFirst();
      return row ? Number(row.checked_at) : undefined;
    },
    async markTagChecked(repository, tag, now) {
      await db
        .insertInto('mirror_tags')
        .values({ repository, tag, checked_at: now })
        .onConflict((c) => c.columns(['repository', 'tag']).doUpdateSet({ checked_at: now }))
        .execute();
    },
    async referencedByManifest(repository, digest) {
      const row = await db
        .selectFrom('manifest_references')
        .select('child')
        .where('repository', '=', repository)
        .where('child', '=', digest)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
    async totalBytes() {
      const perDigest = db
        .selectFrom('mirror_cache')
        .select(['digest', sql<number>`max(size)`.as('size')])
        .where('digest', 'not in', pinnedDigests())
        .groupBy('digest')
        .as('d');
      const row = await db.selectFrom(perDigest).select(sql<number | string | null>`sum(d.size)`.as('total')).executeTakeFirst();
      return Number(row?.total ?? 0);
    },
    async leastRecentlyPulled(limit) {
      const rows = await db
        .selectFrom('mirror_cache')
        .select(['repository', 'digest', 'kind', 'size'])
        .where('digest', 'not in', pinnedDigests())
        .orderBy('last_pulled_at')
        .orderBy('digest')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ repository: r.repository, digest: r.digest, kind: r.kind === 'manifest' ? 'manifest' : 'blob', size: Number(r.size) }));
    },
    async evict(repository, digest, kind) {
      await db.deleteFrom('mirror_cache').where('repository', '=', repository).where('digest', '=', digest).execute();
      if (kind === 'manifest') {
        const tags = await db.selectFrom('tags').select('name').where('repository', '=', repository).where('digest', '=', digest).execute();
        if (tags.length > 0) {
          await db.deleteFrom('mirror_tags').where('repository', '=', repository).where('tag', 'in', tags.map((t) => t.name)).execute();
          await db.deleteFrom('tags').where('repository', '=', repository).where('digest', '=', digest).execute();
        }
        await db.deleteFrom('manifest_references').where('repository', '=', repository).where('parent', '=', digest).execute();
        await db.deleteFrom('manifests').where('repository', '=', repository).where('digest', '=', digest).execute();
      } else {
        await db.deleteFrom('repository_blobs').where('repository', '=', repository).where('digest', '=', digest).execute();
      }
      await releaseDigests(db, [{ repository, digest }]);
    },
  };
}
