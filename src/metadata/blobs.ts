import type { Db } from './database.js';
import { isPostgres } from './dialect.js';
import { fastReads, type FastReads } from './fast-reads.js';
import { sizesInRepository } from './digest-sizes.js';
import { holdDigest, releaseDigests, type UsageChange } from './project-usage.js';
import type { BlobState } from './schema.js';

export interface BlobRecord {
  digest: string;
  size: number;
}

/** A writer's view of a digest: bytes present, to be put in place, or being deleted by GC. */
export type ReserveOutcome = 'live' | 'pending' | 'deleting';

/**
 * Blob rows and repository links. A row's `state` says where its bytes are (docs/gc.md): writers
 * go through `reserve` → (bytes) → `finalize`, or `claimLive` for a new reference to bytes that
 * are there, always inside the transaction that adds the reference; GC alone moves rows to
 * `deleting` (see reclaim.ts). Every method that writes also refreshes `touched_at`, the grace
 * period's anchor.
 */
export interface BlobStore {
  /**
   * A writer's first step: a live row is refreshed (`live`: the bytes are there); else a pending
   * row is made sure of (`pending`: put the bytes in place, then `finalize`); `deleting` when GC
   * owns the row (wait until it is gone, then start over).
   */
  reserve(blob: BlobRecord, now: number): Promise<ReserveOutcome>;
  /** After the bytes are in place: pending (or live) → live. False when GC took the row. */
  finalize(digest: string, now: number): Promise<boolean>;
  /** A new reference to existing bytes (mount, mirror adoption): refreshes the row; false unless live. */
  claimLive(digest: string, now: number): Promise<boolean>;
  state(digest: string): Promise<BlobState | undefined>;
  /** A live blob. */
  get(digest: string): Promise<BlobRecord | undefined>;
  /** Lets `repository` serve `digest` (creating or refreshing the link); counts it in the project's usage. */
  link(repository: string, blob: BlobRecord, now: number): Promise<UsageChange | undefined>;
  unlink(repository: string, digest: string): Promise<boolean>;
  /** The live blob, if `repository` may serve it. */
  findInRepository(repository: string, digest: string): Promise<BlobRecord | undefined>;
  /** The size of each of `digests` that `repository` may serve (the others are absent). */
  sizesInRepository(repository: string, digests: readonly string[]): Promise<Map<string, number>>;
  /**
   * Like `sizesInRepository`, and the links found stay locked against GC until the transaction
   * ends (PostgreSQL: FOR SHARE; SQLite: the transaction's write lock). For a manifest PUT.
   */
  lockSizesInRepository(repository: string, digests: readonly string[]): Promise<Map<string, number>>;
}

/** `reads`: the hot reads' fast path (outside transactions; see fast-reads.ts). */
export function blobStore(db: Db, reads: FastReads = fastReads(db)): BlobStore {
  const state = async (digest: string) =>
    (await db.selectFrom('blobs').select('state').where('digest', '=', digest).executeTakeFirst())?.state;
  const linked = reads.prepare(() =>
    db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.digest', 'b.size'])
      .where('rb.repository', '=', '')
      .where('rb.digest', '=', '')
      .where('b.state', '=', 'live'),
  );

  return {
    async reserve({ digest, size }, now) {
      for (;;) {
        // On PostgreSQL this waits for a GC transaction holding the row, then sees its outcome.
        const refreshed = await db
          .updateTable('blobs')
          .set({ touched_at: now })
          .where('digest', '=', digest)
          .where('state', 'in', ['live', 'pending'])
          .returning('state')
          .executeTakeFirst();
        if (refreshed) return refreshed.state === 'live' ? 'live' : 'pending';
        const inserted = await db
          .insertInto('blobs')
          .values({ digest, size, created_at: now, touched_at: now, state: 'pending' })
          .onConflict((c) => c.column('digest').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return 'pending';
        if ((await state(digest)) === 'deleting') return 'deleting';
        // Inserted by a concurrent writer meanwhile: refresh that row.
      }
    },
    async finalize(digest, now) {
      const result = await db
        .updateTable('blobs')
        .set({ state: 'live', touched_at: now })
        .where('digest', '=', digest)
        .where('state', 'in', ['pending', 'live'])
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async claimLive(digest, now) {
      const result = await db.updateTable('blobs').set({ touched_at: now }).where('digest', '=', digest).where('state', '=', 'live').executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    state,
    async get(digest) {
      return db.selectFrom('blobs').select(['digest', 'size']).where('digest', '=', digest).where('state', '=', 'live').executeTakeFirst();
    },
    async link(repository, { digest, size }, now) {
      await db
        .insertInto('repository_blobs')
        .values({ repository, digest, created_at: now, touched_at: now })
        .onConflict((c) => c.columns(['repository', 'digest']).doUpdateSet({ touched_at: now }))
        .execute();
      return holdDigest(db, repository, digest, size, now);
    },
    async unlink(repository, digest) {
      const result = await db.deleteFrom('repository_blobs').where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await releaseDigests(db, [{ repository, digest }]);
      return true;
    },
    findInRepository: (repository, digest) => linked.first([repository, digest, 'live']),
    sizesInRepository: (repository, digests) => sizesInRepository(db, 'blob', repository, digests),
    lockSizesInRepository: (repository, digests) => sizesInRepository(db, 'blob', repository, digests, isPostgres(db)),
  };
}
