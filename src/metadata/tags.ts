import type { Db } from './database.js';
import { fastReads, type FastReads } from './fast-reads.js';
import { precompiled } from './precompiled.js';

export interface TagStore {
  /**
   * Points `name` at `digest`, creating or moving the tag. A manifest the tag leaves is touched:
   * its untagged grace period starts now. Returns the digest the tag pointed at before; a caller
   * that read it in this transaction already passes it as `previous` (one read fewer).
   */
  set(repository: string, name: string, digest: string, now: number, previous?: { digest: string | undefined }): Promise<string | undefined>;
  /** Creates the tag unless it exists; returns the digest it points at afterwards (a race-free "set once"). */
  create(repository: string, name: string, digest: string, now: number): Promise<string>;
  /** The digest a tag points at. */
  resolve(repository: string, name: string): Promise<string | undefined>;
  /** Removes the tag; the manifest it pointed at is touched, as by `set`. */
  remove(repository: string, name: string, now: number): Promise<boolean>;
  removeForDigest(repository: string, digest: string): Promise<number>;
  /** Tags whose name starts with `prefix` (no wildcards in it), with their digests. */
  withPrefix(repository: string, prefix: string): Promise<Array<{ name: string; digest: string }>>;
  /** Tag names after `last` in byte order, at most `limit`. */
  list(repository: string, options: { last?: string; limit: number }): Promise<string[]>;
}

// A push's statements (see precompiled.ts).
const touchManifest = precompiled((db, v: { repository: string; digest: string; now: number }) =>
  db.updateTable('manifests').set({ touched_at: v.now }).where('repository', '=', v.repository).where('digest', '=', v.digest),
);
const tagDigest = precompiled((db, v: { repository: string; name: string }) =>
  db.selectFrom('tags').select('digest').where('repository', '=', v.repository).where('name', '=', v.name),
);
const upsertTag = precompiled((db, v: { repository: string; name: string; digest: string; now: number }) =>
  db
    .insertInto('tags')
    .values({ repository: v.repository, name: v.name, digest: v.digest, updated_at: v.now })
    .onConflict((c) => c.columns(['repository', 'name']).doUpdateSet({ digest: v.digest, updated_at: v.now })),
);

/** `reads`: the hot reads' fast path (outside transactions; see fast-reads.ts). */
export function tagStore(db: Db, reads: FastReads = fastReads(db)): TagStore {
  const touch = (repository: string, digest: string, now: number) => touchManifest.execute(db, { repository, digest, now });

  return {
    async set(repository, name, digest, now, known) {
      // Unless known: the tag as this store's (transaction's) connection sees it.
      const previous = known ? known.digest : (await tagDigest.first(db, { repository, name }))?.digest;
      await upsertTag.execute(db, { repository, name, digest, now });
      if (previous !== undefined && previous !== digest) await touch(repository, previous, now);
      return previous;
    },
    async create(repository, name, digest, now) {
      await db.insertInto('tags').values({ repository, name, digest, updated_at: now }).onConflict((c) => c.columns(['repository', 'name']).doNothing()).execute();
      const row = await db.selectFrom('tags').select('digest').where('repository', '=', repository).where('name', '=', name).executeTakeFirstOrThrow();
      return row.digest;
    },
    async resolve(repository, name) {
      return (await reads.first(tagDigest, { repository, name }))?.digest;
    },
    async remove(repository, name, now) {
      const removed = await db.deleteFrom('tags').where('repository', '=', repository).where('name', '=', name).returning('digest').executeTakeFirst();
      if (removed) await touch(repository, removed.digest, now);
      return removed !== undefined;
    },
    async removeForDigest(repository, digest) {
      const result = await db.deleteFrom('tags').where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async withPrefix(repository, prefix) {
      // LIKE up to the first wildcard character, then the exact check.
      const pattern = `${prefix.split(/[\\%_]/, 1)[0]}%`;
      const rows = await db.selectFrom('tags').select(['name', 'digest']).where('repository', '=', repository).where('name', 'like', pattern).limit(1000).execute();
      return rows.filter((r) => r.name.startsWith(prefix));
    },
    async list(repository, { last, limit }) {
      let query = db.selectFrom('tags').select('name').where('repository', '=', repository).orderBy('name').limit(limit);
      if (last !== undefined) query = query.where('name', '>', last);
      return (await query.execute()).map((r) => r.name);
    },
  };
}
