import type { Db } from './database.js';

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
  for (let i = 0; i < unique.length; i += 500) {
    const chunk = unique.slice(i, i + 500);
    const rows =
      kind === 'manifest'
        ? await db
            .selectFrom('manifests')
            .select(['digest', 'size'])
            .where('repository', '=', repository)
            .where('digest', 'in', chunk)
            .$if(lock, (q) => q.orderBy('digest').forShare())
            .execute()
        : await db
            .selectFrom('repository_blobs as rb')
            .innerJoin('blobs as b', 'b.digest', 'rb.digest')
            .select(['rb.digest as digest', 'b.size as size'])
            .where('rb.repository', '=', repository)
            .where('rb.digest', 'in', chunk)
            .where('b.state', '=', 'live')
            .$if(lock, (q) => q.orderBy('rb.digest').forShare(['rb']))
            .execute();
    for (const row of rows) sizes.set(row.digest, Number(row.size));
  }
  return sizes;
}
