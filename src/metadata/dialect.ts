import { PostgresAdapter } from 'kysely';
import type { Db } from './database.js';

/**
 * PostgreSQL runs transactions at read committed: a statement sees what committed before it
 * started, and rows another transaction is changing must be locked explicitly (FOR SHARE, FOR
 * UPDATE) to order the two. SQLite has one writer at a time, and a transaction that begins with a
 * write is serializable, so the same queries run there without lock clauses.
 */
export const isPostgres = (db: Db): boolean => db.getExecutor().adapter instanceof PostgresAdapter;
