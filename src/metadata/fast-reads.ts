import SQLite from 'better-sqlite3';
import { CompiledQuery, SqliteAdapter, type Compilable } from 'kysely';
import type { Db } from './database.js';
import type { StatementObserver } from './sqlite-statements.js';

/** A SELECT built and compiled once, run with new parameters (in the order the builder bound them). */
export interface PreparedRead<Row> {
  first(parameters: readonly unknown[]): Promise<Row | undefined>;
}

/**
 * The hot path's reads (a tag, a manifest, a blob link per request): compiled once instead of
 * built and compiled by Kysely on every call, which cost ~15 KB of garbage and most of the
 * metadata time of a manifest GET. With SQLite they run on a connection of their own, outside
 * Kysely's one-connection lock, so they never queue behind a transaction another request holds
 * open; WAL gives them the last committed state, never a half-done transaction. Only for reads
 * outside transactions: inside one, the stores use the transaction.
 */
export interface FastReads {
  /** `build` runs (and the query compiles) on the first call only. */
  prepare<Row>(build: () => Compilable<Row>): PreparedRead<Row>;
  /** Frees the pages SQLite caches for its connection (idle; they come back as reads run). */
  shrinkCache(): void;
  close(): void;
}

export interface FastReadOptions {
  /** The SQLite file (absent or `:memory:`: the reads go through `db` like any other). */
  sqlitePath?: string | undefined;
  busyTimeoutMs?: number;
  observe?: StatementObserver;
}

export function fastReads(db: Db, options: FastReadOptions = {}): FastReads {
  const path = options.sqlitePath;
  if (!(db.getExecutor().adapter instanceof SqliteAdapter) || !path || path === ':memory:') {
    return {
      prepare<Row>(build: () => Compilable<Row>) {
        let sql: string | undefined;
        return {
          async first(parameters) {
            sql ??= build().compile().sql;
            return (await db.executeQuery<Row>(CompiledQuery.raw(sql, [...parameters]))).rows[0];
          },
        };
      },
      shrinkCache() {},
      close() {},
    };
  }
  const connection = new SQLite(path);
  connection.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 2_000)}`);
  connection.pragma('query_only = ON');
  const observe = options.observe ?? (() => undefined);
  return {
    prepare<Row>(build: () => Compilable<Row>) {
      let statement: SQLite.Statement<unknown[], Row> | undefined;
      return {
        first(parameters) {
          const start = performance.now();
          try {
            statement ??= connection.prepare<unknown[], Row>(build().compile().sql);
            return Promise.resolve(statement.get(parameters));
          } catch (error) {
            return Promise.reject(error);
          } finally {
            observe('read', (performance.now() - start) / 1000);
          }
        },
      };
    },
    shrinkCache: () => void connection.pragma('shrink_memory'),
    close: () => connection.close(),
  };
}
