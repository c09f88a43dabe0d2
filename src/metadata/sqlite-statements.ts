import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** What a synchronous SQLite call did: `commit` writes a transaction's WAL frames (its fsync follows off the loop). */
export type StatementKind = 'read' | 'write' | 'commit';

/** Told how long each call held the thread (seconds): the event loop's wait on SQLite. */
export type StatementObserver = (kind: StatementKind, seconds: number) => void;

/** Prepared statements kept per connection; longer SQL (multi-row inserts) is not kept. */
const CACHE_SIZE = 256;
const CACHE_MAX_SQL = 2048;

/**
 * better-sqlite3 as Kysely's SqliteDatabase, with three changes and a report of writes (`onWrite`, for
 * the group commit: sqlite-group-commit.ts). Prepared statements are reused:
 * Kysely prepares every query anew, so SQLite parsed and planned the same few dozen statements
 * on every request. Every call is timed for `observe`: better-sqlite3 is synchronous, so this is
 * exactly the time the event loop stood still. And Kysely's `begin` becomes `begin immediate`: a
 * deferred transaction that reads, then writes after another connection (the background writer,
 * another worker process) committed, fails at once with SQLITE_BUSY (its snapshot is stale and
 * the busy timeout does not apply); an immediate one takes the write lock first, waiting for it.
 */
export function observedSqlite(connection: SQLite.Database, observe: StatementObserver = () => undefined, onWrite: () => void = () => undefined): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();

  const wrap = (sql: string, statement: SQLite.Statement): SqliteStatement => {
    const kind: StatementKind = statement.reader ? 'read' : sql === 'commit' ? 'commit' : 'write';
    // `begin immediate` takes the write lock but changes nothing; `insert … returning` is a reader that writes.
    const changes = !statement.readonly && sql !== 'begin';
    const took = (start: number) => {
      observe(kind, (performance.now() - start) / 1000);
      if (changes) onWrite();
    };
    return {
      reader: statement.reader,
      all(parameters) {
        const start = performance.now();
        try {
          return statement.all(parameters);
        } finally {
          took(start);
        }
      },
      run(parameters) {
        const start = performance.now();
        try {
          return statement.run(parameters);
        } finally {
          took(start);
        }
      },
      // An iterator keeps its statement busy between rows: never share one.
      iterate: (parameters) => connection.prepare(sql).iterate(parameters),
    };
  };

  return {
    close: () => connection.close(),
    prepare(sql) {
      const hit = cache.get(sql);
      if (hit) return hit;
      const statement = wrap(sql, connection.prepare(sql === 'begin' ? 'begin immediate' : sql));
      if (sql.length <= CACHE_MAX_SQL) {
        if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
