import type { Db } from './database.js';
import type { BlobState } from './schema.js';

export interface TagFact {
  name: string;
  digest: string;
  updatedAt: number;
}

export interface ManifestFact {
  digest: string;
  size: number;
  subject: string | null;
  touchedAt: number;
  lastPulledAt: number | null;
}

export interface ReferenceFact {
  parent: string;
  child: string;
  kind: 'blob' | 'manifest';
}

export interface LinkFact {
  digest: string;
  touchedAt: number;
}

export interface BlobFact {
  digest: string;
  size: number;
  state: BlobState;
  touchedAt: number;
}

/**
 * What keeps a set of digests' bytes, anywhere: links, manifests (their own bytes) and mirror
 * cache entries. A manifest listing a blob keeps the blob's link in its repository, and the link
 * keeps the bytes.
 */
export interface DigestHolders {
  links: Array<{ repository: string; digest: string }>;
  manifests: Array<{ repository: string; digest: string }>;
  cached: string[];
}

/**
 * GC's reads, in pages (keyset order, `limit` rows) so no single query holds the database for
 * long: the planner reads a repository's graph page by page and the blobs in digest order.
 */
export interface GcScanStore {
  tags(repository: string, after: string | undefined, limit: number): Promise<TagFact[]>;
  manifests(repository: string, after: string | undefined, limit: number): Promise<ManifestFact[]>;
  references(repository: string, after: { parent: string; child: string } | undefined, limit: number): Promise<ReferenceFact[]>;
  links(repository: string, after: string | undefined, limit: number): Promise<LinkFact[]>;
  /** Digests the mirror cache holds for `repository`. */
  cached(repository: string): Promise<string[]>;
  /** Blobs that are live or pending, by digest after `after`. */
  blobs(after: string | undefined, limit: number): Promise<BlobFact[]>;
  /** Those of `digests` that are live or pending. */
  blobsIn(digests: string[]): Promise<BlobFact[]>;
  holders(digests: string[]): Promise<DigestHolders>;
  /** Which of `digests` have a row in any state. */
  known(digests: string[]): Promise<Set<string>>;
}

const blobColumns = ['digest', 'size', 'state', 'touched_at'] as const;
const toBlobFact = (r: { digest: string; size: number; state: BlobState; touched_at: number }): BlobFact => ({
  digest: r.digest,
  size: Number(r.size),
  state: r.state,
  touchedAt: Number(r.touched_at),
});

export function gcScanStore(db: Db): GcScanStore {
  return {
    async tags(repository, after, limit) {
      let query = db.selectFrom('tags').select(['name', 'digest', 'updated_at']).where('repository', '=', repository).orderBy('name').limit(limit);
      if (after !== undefined) query = query.where('name', '>', after);
      return (await query.execute()).map((r) => ({ name: r.name, digest: r.digest, updatedAt: Number(r.updated_at) }));
    },
    async manifests(repository, after, limit) {
      let query = db
        .selectFrom('manifests')
        .select(['digest', 'size', 'subject', 'touched_at', 'last_pulled_at'])
        .where('repository', '=', repository)
        .orderBy('digest')
        .limit(limit);
      if (after !== undefined) query = query.where('digest', '>', after);
      return (await query.execute()).map((r) => ({
        digest: r.digest,
        size: Number(r.size),
        subject: r.subject,
        touchedAt: Number(r.touched_at),
        lastPulledAt: r.last_pulled_at === null ? null : Number(r.last_pulled_at),
      }));
    },
    async references(repository, after, limit) {
      let query = db.selectFrom('manifest_references').select(['parent', 'child', 'kind']).where('repository', '=', repository).orderBy('parent').orderBy('child').limit(limit);
      if (after !== undefined) {
        query = query.where((eb) => eb.or([eb('parent', '>', after.parent), eb.and([eb('parent', '=', after.parent), eb('child', '>', after.child)])]));
      }
      return (await query.execute()).map((r) => ({ parent: r.parent, child: r.child, kind: r.kind === 'manifest' ? 'manifest' : 'blob' }));
    },
    async links(repository, after, limit) {
      let query = db.selectFrom('repository_blobs').select(['digest', 'touched_at']).where('repository', '=', repository).orderBy('digest').limit(limit);
      if (after !== undefined) query = query.where('digest', '>', after);
      return (await query.execute()).map((r) => ({ digest: r.digest, touchedAt: Number(r.touched_at) }));
    },
    async cached(repository) {
      return (await db.selectFrom('mirror_cache').select('digest').where('repository', '=', repository).execute()).map((r) => r.digest);
    },
    async blobs(after, limit) {
      let query = db.selectFrom('blobs').select(blobColumns).where('state', '<>', 'deleting').orderBy('digest').limit(limit);
      if (after !== undefined) query = query.where('digest', '>', after);
      return (await query.execute()).map(toBlobFact);
    },
    async blobsIn(digests) {
      if (digests.length === 0) return [];
      return (await db.selectFrom('blobs').select(blobColumns).where('digest', 'in', digests).where('state', '<>', 'deleting').execute()).map(toBlobFact);
    },
    async holders(digests) {
      if (digests.length === 0) return { links: [], manifests: [], cached: [] };
      const [links, manifests, cached] = await Promise.all([
        db.selectFrom('repository_blobs').select(['repository', 'digest']).where('digest', 'in', digests).execute(),
        db.selectFrom('manifests').select(['repository', 'digest']).where('digest', 'in', digests).execute(),
        db.selectFrom('mirror_cache').select('digest').where('digest', 'in', digests).execute(),
      ]);
      return { links, manifests, cached: cached.map((r) => r.digest) };
    },
    async known(digests) {
      if (digests.length === 0) return new Set();
      return new Set((await db.selectFrom('blobs').select('digest').where('digest', 'in', digests).execute()).map((r) => r.digest));
    },
  };
}
