import type { Db } from './database.js';

/**
 * Which of `digests` have no row in `table` for `repository`. Queried in chunks to stay under
 * SQLite's bound-parameter limit for very large manifests.
 */
export async function missingDigests(db: Db, table: 'repository_blobs' | 'manifests', repository: string, digests: string[]): Promise<string[]> {
  const unique = [...new Set(digests)];
  const found = new Set<string>();
  for (let i = 0; i < unique.length; i += 500) {
    const rows = await db.selectFrom(table).select('digest').where('repository', '=', repository).where('digest', 'in', unique.slice(i, i + 500)).execute();
    for (const row of rows) found.add(row.digest);
  }
  return unique.filter((d) => !found.has(d));
}
