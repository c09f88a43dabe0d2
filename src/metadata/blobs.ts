import type { Db } from './database.js';
import { fastReads, type FastReads } from './fast-reads.js';
import { sizesInRepository } from './digest-sizes.js';

export interface BlobRecord {
  digest: string;
  size: number;
}

export interface BlobStore {
  /** Records verified content (idempotent: the same digest always has the same size). */
  add(blob: BlobRecord, now: number): Promise<void>;
  get(digest: string): Promise<BlobRecord | undefined>;
  /** Lets `repository` serve `digest` (idempotent). */
  link(repository: string, digest: string, now: number): Promise<void>;
  unlink(repository: string, digest: string): Promise<boolean>;
  /** The blob, if `repository` may serve it. */
  findInRepository(repository: string, digest: string): Promise<BlobRecord | undefined>;
  /** The size of each of `digests` that `repository` may serve (the others are absent). */
  sizesInRepository(repository: string, digests: readonly string[]): Promise<Map<string, number>>;
}

/** `reads`: the hot reads' fast path (outside transactions; see fast-reads.ts). */
export function blobStore(db: Db, reads: FastReads = fastReads(db)): BlobStore {
  const linked = reads.prepare(() =>
    db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.digest', 'b.size'])
      .where('rb.repository', '=', '')
      .where('rb.digest', '=', ''),
  );
  return {
    async add({ digest, size }, now) {
      await db.insertInto('blobs').values({ digest, size, created_at: now }).onConflict((c) => c.column('digest').doNothing()).execute();
    },
    async get(digest) {
      return db.selectFrom('blobs').select(['digest', 'size']).where('digest', '=', digest).executeTakeFirst();
    },
    async link(repository, digest, now) {
      await db
        .insertInto('repository_blobs')
        .values({ repository, digest, created_at: now })
        .onConflict((c) => c.columns(['repository', 'digest']).doNothing())
        .execute();
    },
    async unlink(repository, digest) {
      const result = await db.deleteFrom('repository_blobs').where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    findInRepository: (repository, digest) => linked.first([repository, digest]),
    sizesInRepository: (repository, digests) => sizesInRepository(db, 'blob', repository, digests),
  };
}
