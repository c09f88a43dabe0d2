import { PostgresAdapter, sql, type Transaction } from 'kysely';
import type { Db } from './database.js';
import type { Database } from './schema.js';
import { commitsOf } from './sqlite-group-commit.js';

/**
 * PostgreSQL runs transactions at read committed: a statement sees what committed before it
 * started, and rows another transaction is changing must be locked explicitly (FOR SHARE, FOR
 * UPDATE) to order the two. SQLite has one writer at a time, and a transaction that begins with a
 * write is serializable, so the same queries run there without lock clauses.
 */
export const isPostgres = (db: Db): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * Runs `work` in a transaction whose commit does not wait for the disk: other connections see it
 * at once, and the next durable commit (or a checkpoint) flushes it with its own, but a power loss
 * before that may take it back. Only for records whose loss in a crash is harmless, like a
 * writer's reservation of a digest (registry/content-lifecycle.ts). SQLite in WAL mode appends
 * commits in order, so a commit that skips the flush cannot reorder anything;
 * PostgreSQL has `synchronous_commit = off` per transaction for exactly this.
 */
export async function relaxedTransaction<T>(db: Db, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    if (isPostgres(db)) await sql`set local synchronous_commit = off`.execute(trx);
    // SQLite commits without an fsync anyway (sqlite-group-commit.ts): this holder of the one
    // connection just does not wait for the shared flush; the next durable writer's covers it.
    else commitsOf(db)?.relaxRelease();
    return work(trx);
  });
}
