import type { Db } from './database.js';
import { isPostgres } from './dialect.js';
import { fastReads, type FastReads } from './fast-reads.js';
import { precompiled } from './precompiled.js';
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

// A push's statements (see precompiled.ts).
type Touch = { digest: string; now: number };
const blobState = precompiled((db, v: { digest: string }) => db.selectFrom('blobs').select('state').where('digest', '=', v.digest));
const linkedLive = precompiled((db, v: { repository: string; digest: string }) =>
  db
    .selectFrom('repository_blobs as rb')
    .innerJoin('blobs as b', 'b.digest', 'rb.digest')
    .select(['b.digest', 'b.size'])
    .where('rb.repository', '=', v.repository)
    .where('rb.digest', '=', v.digest)
    .where('b.state', '=', 'live'),
);
// On PostgreSQL this waits for a GC transaction holding the row, then sees its outcome.
const refreshUnlessDeleting = precompiled((db, v: Touch) =>
  db.updateTable('blobs').set({ touched_at: v.now }).where('digest', '=', v.digest).where('state', 'in', ['live', 'pending']).returning('state'),
);
const insertPending = precompiled((db, v: Touch & { size: number }) =>
  db
    .insertInto('blobs')
    .values({ digest: v.digest, size: v.size, created_at: v.now, touched_at: v.now, state: 'pending' })
    .onConflict((c) => c.column('digest').doNothing()),
);
const makeLive = precompiled((db, v: Touch) =>
  db.updateTable('blobs').set({ state: 'live', touched_at: v.now }).where('digest', '=', v.digest).where('state', 'in', ['pending', 'live']),
);
const upsertLink = precompiled((db, v: Touch & { repository: string }) =>
  db
    .insertInto('repository_blobs')
    .values({ repository: v.repository, digest: v.digest, created_at: v.now, touched_at: v.now })
    .onConflict((c) => c.columns(['repository', 'digest']).doUpdateSet({ touched_at: v.now })),
);

/** `reads`: the hot reads' fast path (outside transactions; see fast-reads.ts). */
export function blobStore(db: Db, reads: FastReads = fastReads(db)): BlobStore {
  const state = async (digest: string) => (await blobState.first(db, { digest }))?.state;

  return {
    async reserve({ digest, size }, now) {
      for (;;) {
        const refreshed = await refreshUnlessDeleting.first(db, { digest, now });
        if (refreshed) return refreshed.state === 'live' ? 'live' : 'pending';
        if ((await insertPending.changes(db, { digest, size, now })) > 0) return 'pending';
        if ((await state(digest)) === 'deleting') return 'deleting';
        // Inserted by a concurrent writer meanwhile: refresh that row.
      }
    },
    async finalize(digest, now) {
      return (await makeLive.changes(db, { digest, now })) > 0;
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
      await upsertLink.execute(db, { repository, digest, now });
      return holdDigest(db, repository, digest, size, now);
    },
    async unlink(repository, digest) {
      const result = await db.deleteFrom('repository_blobs').where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await releaseDigests(db, [{ repository, digest }]);
      return true;
    },
    findInRepository: (repository, digest) => reads.first(linkedLive, { repository, digest }),
    sizesInRepository: (repository, digests) => sizesInRepository(db, 'blob', repository, digests),
    lockSizesInRepository: (repository, digests) => sizesInRepository(db, 'blob', repository, digests, isPostgres(db)),
  };
}
