import SQLite from 'better-sqlite3';
import { SqliteAdapter } from 'kysely';
import type { Db } from './database.js';
import type { Precompiled } from './precompiled.js';
import type { StatementObserver } from './sqlite-statements.js';

/**
 * The hot path's reads (a tag, a manifest, a blob link per request), as precompiled statements.
 * With SQLite they run on a connection of their own, outside Kysely's one-connection lock, so they
 * never queue behind a transaction another request holds open; WAL gives them the last committed
 * state, never a half-done transaction. Only for reads outside transactions: inside one, the
 * stores use the transaction (`fastReads(tx)` without a path runs them there).
 */
export interface FastReads {
  first<Values, Row>(statement: Precompiled<Values, Row>, values: Values): Promise<Row | undefined>;
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
    return { first: (statement, values) => statement.first(db, values), shrinkCache() {}, close() {} };
  }
  const connection = new SQLite(path);
  connection.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 2_000)}`);
  connection.pragma('query_only = ON');
  const observe = options.observe ?? (() => undefined);
  const statements = new Map<string, SQLite.Statement>();
  return {
    first<Values, Row>(statement: Precompiled<Values, Row>, values: Values) {
      const start = performance.now();
      try {
        const { sql, parameters } = statement.bind(db, values);
        let prepared = statements.get(sql);
        if (!prepared) statements.set(sql, (prepared = connection.prepare(sql)));
        return Promise.resolve(prepared.get(parameters) as Row | undefined);
      } catch (error) {
        return Promise.reject(error);
      } finally {
        observe('read', (performance.now() - start) / 1000);
      }
    },
    shrinkCache: () => void connection.pragma('shrink_memory'),
    close: () => connection.close(),
  };
}
