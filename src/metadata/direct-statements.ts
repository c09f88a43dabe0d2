import type { CompiledQuery, QueryResult, SqliteDatabase } from 'kysely';
import type { Db } from './database.js';
import { connectionOf } from './sqlite-group-commit.js';

/**
 * Inside a SQLite transaction, precompiled statements (precompiled.ts) run on the connection
 * directly instead of through Kysely's executor chain, which for each statement clones an
 * executor and goes through a connection provider and five promises — a third of what a
 * manifest PUT allocated (docs/benchmarks.md, "Fourteenth session"). Only while the
 * transaction's work runs: then SQLite's one connection is the transaction's, and nothing else
 * can run on it. A statement after that (a bug) takes Kysely's path, which refuses it.
 */

/** The connection of each transaction whose work is running. */
const running = new WeakMap<object, SqliteDatabase>();

/** Runs `work`, the body of transaction `trx` begun on `db`, with direct statements on SQLite. */
export async function withDirectStatements<T>(db: Db, trx: Db, work: () => Promise<T>): Promise<T> {
  const connection = connectionOf(db);
  if (!connection) return work();
  running.set(trx, connection);
  try {
    return await work();
  } finally {
    running.delete(trx);
  }
}

/** `query` run on the connection of the running SQLite transaction `db`; undefined for anything else. */
export function runDirect<Row>(db: Db, query: CompiledQuery<Row>): Promise<QueryResult<Row>> | undefined {
  const connection = running.get(db);
  if (!connection) return undefined;
  try {
    // As Kysely's SqliteConnection does it.
    const statement = connection.prepare(query.sql);
    if (statement.reader) return Promise.resolve({ rows: statement.all(query.parameters) as Row[] });
    const { changes, lastInsertRowid } = statement.run(query.parameters);
    return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
  } catch (error) {
    return Promise.reject(error);
  }
}
