import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteAdapter, sql } from 'kysely';
import { createFileSync, makeDirectorySync, privateModes, type FileModes } from '../lib/file-modes.js';
import type { SyncObserver } from './group-sync.js';
import { GroupCommitSqliteDialect, registerSqlite, SqliteCommits } from './sqlite-group-commit.js';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations/index.js';
import { observedSqlite, type StatementObserver } from './sqlite-statements.js';

export type DatabaseOptions =
  | {
      driver: 'sqlite';
      path: string;
      /** How long a statement waits for another process's lock (default 2 s); the wait blocks the thread. */
      busyTimeoutMs?: number;
      /** For the file and its directory when they are created (default owner-only). */
      modes?: FileModes;
      /** Told how long each statement held the event loop (see sqlite-statements.ts). */
      observe?: StatementObserver;
      /** Told of each shared WAL fsync (see sqlite-group-commit.ts). */
      observeSync?: SyncObserver;
    }
  | {
      driver: 'postgres';
      url: string;
      poolSize: number;
      /** Opening a connection fails after this long (default 5 s). */
      connectTimeoutMs?: number;
      /** A statement is cancelled after this long (default 30 s; 0: no limit). */
      statementTimeoutMs?: number;
      /**
       * A pooled connection failed outside any query (the server restarted, a socket reset). The
       * pool drops it and opens a new one when needed; without a listener this would end the process.
       */
      onConnectionError?: (error: Error) => void;
    };

export type Db = Kysely<Database>;

const PG_INT8 = 20;

/** Opens the metadata database and brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<Db> {
  const db = options.driver === 'sqlite' ? openSqlite(options) : await openPostgres(options);
  try {
    await migrate(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

function openSqlite({ path, busyTimeoutMs = 2_000, modes = privateModes, observe, observeSync }: Extract<DatabaseOptions, { driver: 'sqlite' }>): Db {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) {
    makeDirectorySync(dirname(path), modes);
    // SQLite gives its -wal and -shm files the database file's mode: create that one first.
    createFileSync(path, modes);
  }
  const connection = new SQLite(path);
  // WAL lets readers run beside the one writer; NORMAL commits without an fsync, which the group
  // commit then does for every writer waiting, off the event loop (sqlite-group-commit.ts: a
  // pushed manifest still survives power loss); busy_timeout lets several worker processes share
  // the file, short because the wait blocks the event loop: a file locked by another process fails
  // requests (503) instead.
  connection.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  // After a burst of writes the WAL starts over at this size instead of keeping its peak.
  connection.pragma('journal_size_limit = 67108864');
  connection.pragma('foreign_keys = ON');
  const commits = new SqliteCommits(inMemory ? undefined : `${connection.name}-wal`, observeSync);
  const database = observedSqlite(connection, observe, () => commits.noteWrite());
  const db = new Kysely<Database>({ dialect: new GroupCommitSqliteDialect({ database }, commits) });
  registerSqlite(db, { commits, connection: database });
  return db;
}

async function openPostgres(options: Extract<DatabaseOptions, { driver: 'postgres' }>): Promise<Db> {
  // Loaded only with PostgreSQL configured: a SQLite server does not carry the client in memory.
  const { default: pg } = await import('pg');
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    application_name: 'wharf',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // Server side: a runaway statement is cancelled. Client side (a little later): a server that
    // stopped answering (failover, network partition) cannot hold a request forever.
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + 5_000 } : {}),
    idle_in_transaction_session_timeout: 60_000,
    keepAlive: true,
    // Sizes and times are bigint columns; they fit a JS number (< 2^53) by a wide margin.
    types: { getTypeParser: (oid: number, format?: string) => (oid === PG_INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) },
  });
  const onConnectionError = options.onConnectionError ?? (() => undefined);
  // Every client gets a listener for its whole life: pg-pool listens only while a client is idle,
  // and an 'error' event with no listener (PostgreSQL restarting: "terminating connection due to
  // administrator command") would end the process. The pool re-emits idle clients' errors: already
  // reported by the client's own listener.
  pool.on('connect', (client) => client.on('error', onConnectionError));
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'wharf_migrations', migrationLockTableName: 'wharf_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}

/**
 * Frees the pages SQLite caches for the main connection (an idle server's memory; the cache
 * fills again as queries run). Resolves whether there was such a cache: PostgreSQL has none here.
 */
export async function shrinkSqliteCache(db: Db): Promise<boolean> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return false;
  await sql`pragma shrink_memory`.execute(db);
  return true;
}
