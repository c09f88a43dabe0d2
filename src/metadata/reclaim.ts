import type { ExpressionBuilder } from 'kysely';
import type { Db } from './database.js';
import { isPostgres } from './dialect.js';
import { releaseDigests } from './project-usage.js';
import type { Database, Deleter } from './schema.js';

export interface PlannedTag {
  name: string;
  digest: string;
  updatedAt: number;
}

export interface DeletingBlob {
  digest: string;
  size: number;
  deletingSince: number;
}

/**
 * GC's deletes. Each one re-checks, in the statement that deletes, that nothing holds the row and
 * that it is older than the cutoff: what GC planned from an earlier read is only a candidate. On
 * PostgreSQL each first locks its candidates (FOR UPDATE SKIP LOCKED: rows a writer is using right
 * now are left for the next run) so that the checking statement, which starts after the locks
 * are held, sees every reference committed before. Writers lock the same rows (blobs.reserve,
 * blobs.link, manifests.add, lockLinks, lockExisting), so no reference can appear unseen.
 * Run each method inside a transaction.
 */
export interface ReclaimStore {
  /** Deletes tags that still point where the plan saw them; returns the names deleted. */
  deleteTags(repository: string, tags: PlannedTag[]): Promise<string[]>;
  /**
   * Deletes manifests of `repository` among `digests` that no tag, index or present subject
   * holds, that the mirror cache does not hold, and that were neither touched nor pulled since
   * `before`; with their outgoing references. Returns those deleted.
   */
  deleteManifests(repository: string, digests: string[], before: number): Promise<Array<{ digest: string; size: number }>>;
  /** Deletes links no manifest of the repository references, untouched since `before`. */
  deleteLinks(repository: string, digests: string[], before: number): Promise<string[]>;
  /**
   * Moves blobs that nothing references and nobody touched since `before` to `deleting`: from
   * then on `by` owns them and may delete their bytes. Returns those it now owns.
   */
  markDeleting(digests: string[], before: number, now: number, by: Deleter): Promise<Array<{ digest: string; size: number }>>;
  /** Bytes with no row at all: takes ownership with a `deleting` row; false when a row exists. */
  claimOrphan(digest: string, size: number, now: number): Promise<boolean>;
  /** After their bytes are gone: removes `deleting` rows. */
  forget(digests: string[]): Promise<void>;
  /**
   * Rows in the `deleting` state that a holder of the GC lease may finish: every row GC owns (the
   * lease holder is the only one deleting them) and eviction's rows older than `evictionStaleBefore`
   * (their owner is surely done or dead). By digest after `after`; just `digest` when given.
   */
  finishable(options: { evictionStaleBefore: number; limit: number; after?: string; digest?: string }): Promise<DeletingBlob[]>;
  /**
   * Removes an upload session's row if it was untouched since `before`. True when the session is
   * gone (now or before), so its bytes may go; false when it was used since.
   */
  deleteStaleUpload(id: string, before: number): Promise<boolean>;
}

type Where<T extends keyof Database> = ExpressionBuilder<Database, T>;

export function reclaimStore(db: Db): ReclaimStore {
  const postgres = isPostgres(db);

  /** PostgreSQL: locks the candidate rows, skipping those a writer holds now; SQLite: all of them. */
  async function lockable<T extends { digest: string }>(select: () => Promise<T[]>, all: string[]): Promise<string[]> {
    if (!postgres) return all;
    return (await select()).map((row) => row.digest);
  }

  return {
    async deleteTags(repository, tags) {
      const deleted: string[] = [];
      for (const tag of tags) {
        const result = await db
          .deleteFrom('tags')
          .where('repository', '=', repository)
          .where('name', '=', tag.name)
          .where('digest', '=', tag.digest)
          .where('updated_at', '=', tag.updatedAt)
          .executeTakeFirst();
        if (Number(result.numDeletedRows) > 0) deleted.push(tag.name);
      }
      return deleted;
    },

    async deleteManifests(repository, digests, before) {
      if (digests.length === 0) return [];
      const candidates = await lockable(
        () => db.selectFrom('manifests').select('digest').where('repository', '=', repository).where('digest', 'in', digests).orderBy('digest').forUpdate().skipLocked().execute(),
        digests,
      );
      if (candidates.length === 0) return [];
      const deleted = await db
        .deleteFrom('manifests')
        .where('repository', '=', repository)
        .where('digest', 'in', candidates)
        .where('touched_at', '<', before)
        .where((eb) => eb.or([eb('last_pulled_at', 'is', null), eb('last_pulled_at', '<', before)]))
        .where((eb: Where<'manifests'>) =>
          eb.not(eb.exists(eb.selectFrom('tags as t').select('t.name').whereRef('t.repository', '=', 'manifests.repository').whereRef('t.digest', '=', 'manifests.digest'))),
        )
        .where((eb: Where<'manifests'>) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('manifest_references as r')
                .select('r.child')
                .whereRef('r.repository', '=', 'manifests.repository')
                .whereRef('r.child', '=', 'manifests.digest')
                .where('r.kind', '=', 'manifest'),
            ),
          ),
        )
        .where((eb: Where<'manifests'>) =>
          eb.not(eb.exists(eb.selectFrom('manifests as s').select('s.digest').whereRef('s.repository', '=', 'manifests.repository').whereRef('s.digest', '=', 'manifests.subject'))),
        )
        .where((eb: Where<'manifests'>) =>
          eb.not(eb.exists(eb.selectFrom('mirror_cache as c').select('c.digest').whereRef('c.repository', '=', 'manifests.repository').whereRef('c.digest', '=', 'manifests.digest'))),
        )
        .returning(['digest', 'size'])
        .execute();
      if (deleted.length === 0) return [];
      const gone = deleted.map((row) => row.digest);
      await db.deleteFrom('manifest_references').where('repository', '=', repository).where('parent', 'in', gone).execute();
      await releaseDigests(db, gone.map((digest) => ({ repository, digest })));
      return deleted.map((row) => ({ digest: row.digest, size: Number(row.size) }));
    },

    async deleteLinks(repository, digests, before) {
      if (digests.length === 0) return [];
      const candidates = await lockable(
        () => db.selectFrom('repository_blobs').select('digest').where('repository', '=', repository).where('digest', 'in', digests).orderBy('digest').forUpdate().skipLocked().execute(),
        digests,
      );
      if (candidates.length === 0) return [];
      const deleted = await db
        .deleteFrom('repository_blobs')
        .where('repository', '=', repository)
        .where('digest', 'in', candidates)
        .where('touched_at', '<', before)
        .where((eb: Where<'repository_blobs'>) =>
          eb.not(
            eb.exists(
              eb.selectFrom('manifest_references as r').select('r.child').whereRef('r.repository', '=', 'repository_blobs.repository').whereRef('r.child', '=', 'repository_blobs.digest'),
            ),
          ),
        )
        .where((eb: Where<'repository_blobs'>) =>
          eb.not(eb.exists(eb.selectFrom('mirror_cache as c').select('c.digest').whereRef('c.repository', '=', 'repository_blobs.repository').whereRef('c.digest', '=', 'repository_blobs.digest'))),
        )
        .returning('digest')
        .execute();
      const gone = deleted.map((row) => row.digest);
      await releaseDigests(db, gone.map((digest) => ({ repository, digest })));
      return gone;
    },

    async markDeleting(digests, before, now, by) {
      if (digests.length === 0) return [];
      const candidates = await lockable(
        () => db.selectFrom('blobs').select('digest').where('digest', 'in', digests).orderBy('digest').forUpdate().skipLocked().execute(),
        digests,
      );
      if (candidates.length === 0) return [];
      const marked = await db
        .updateTable('blobs')
        .set({ state: 'deleting', deleting_since: now, deleting_by: by })
        .where('digest', 'in', candidates)
        .where('state', 'in', ['live', 'pending'])
        .where('touched_at', '<', before)
        .where((eb: Where<'blobs'>) => eb.not(eb.exists(eb.selectFrom('repository_blobs as l').select('l.digest').whereRef('l.digest', '=', 'blobs.digest'))))
        .where((eb: Where<'blobs'>) => eb.not(eb.exists(eb.selectFrom('manifests as m').select('m.digest').whereRef('m.digest', '=', 'blobs.digest'))))
        .where((eb: Where<'blobs'>) => eb.not(eb.exists(eb.selectFrom('mirror_cache as c').select('c.digest').whereRef('c.digest', '=', 'blobs.digest'))))
        .returning(['digest', 'size'])
        .execute();
      return marked.map((row) => ({ digest: row.digest, size: Number(row.size) }));
    },

    async claimOrphan(digest, size, now) {
      const inserted = await db
        .insertInto('blobs')
        .values({ digest, size, created_at: now, touched_at: now, state: 'deleting', deleting_since: now, deleting_by: 'gc' })
        .onConflict((c) => c.column('digest').doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
    },

    async forget(digests) {
      for (let i = 0; i < digests.length; i += 500) {
        await db.deleteFrom('blobs').where('digest', 'in', digests.slice(i, i + 500)).where('state', '=', 'deleting').execute();
      }
    },

    async finishable({ evictionStaleBefore, limit, after, digest }) {
      let query = db
        .selectFrom('blobs')
        .select(['digest', 'size', 'deleting_since'])
        .where('state', '=', 'deleting')
        .where((eb) => eb.or([eb('deleting_by', 'is', null), eb('deleting_by', '<>', 'eviction'), eb('deleting_since', '<', evictionStaleBefore)]))
        .orderBy('digest')
        .limit(limit);
      if (after !== undefined) query = query.where('digest', '>', after);
      if (digest !== undefined) query = query.where('digest', '=', digest);
      return (await query.execute()).map((row) => ({ digest: row.digest, size: Number(row.size), deletingSince: Number(row.deleting_since ?? 0) }));
    },

    async deleteStaleUpload(id, before) {
      const result = await db.deleteFrom('uploads').where('id', '=', id).where('updated_at', '<', before).executeTakeFirst();
      if (Number(result.numDeletedRows) > 0) return true;
      return (await db.selectFrom('uploads').select('id').where('id', '=', id).executeTakeFirst()) === undefined;
    },
  };
}
