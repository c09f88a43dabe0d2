import type { Db } from './database.js';
import { precompiledWithList } from './precompiled.js';

type Lookup = { repository: string; digests: readonly string[] };
// Each with a locking variant (see `sizesInRepository`).
const statements = (lock: boolean) => ({
  manifest: precompiledWithList('digests', (db, v: Lookup) =>
    db
      .selectFrom('manifests')
      .select(['digest', 'size'])
      .where('repository', '=', v.repository)
      .where('digest', 'in', v.digests)
      .$if(lock, (q) => q.orderBy('digest').forShare()),
  ),
  blob: precompiledWithList('digests', (db, v: Lookup) =>
    db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['rb.digest as digest', 'b.size as size'])
      .where('rb.repository', '=', v.repository)
      .where('rb.digest', 'in', v.digests)
      .where('b.state', '=', 'live')
      .$if(lock, (q) => q.orderBy('rb.digest').forShare(['rb'])),
  ),
});
const plain = statements(false);
const locking = statements(true);

/**
 * The stored size of each of `digests` that `repository` holds: blobs it may serve, or its
 * manifests. A digest it does not hold is absent from the map. One query per 500 digests, to stay
 * under SQLite's bound-parameter limit for very large manifests. With `lock`, the link or manifest
 * rows found stay locked FOR SHARE until the transaction ends (PostgreSQL), so GC cannot delete
 * them meanwhile; every locker takes them in digest order, so two never wait for each other.
 */
export async function sizesInRepository(db: Db, kind: 'blob' | 'manifest', repository: string, digests: readonly string[], lock = false): Promise<Map<string, number>> {
  const unique = [...new Set(digests)].sort();
  const sizes = new Map<string, number>();
  const statement = (lock ? locking : plain)[kind];
  for (let i = 0; i < unique.length; i += 500) {
    for (const row of await statement.rows(db, { repository, digests: unique.slice(i, i + 500) })) sizes.set(row.digest, Number(row.size));
  }
  return sizes;
}
