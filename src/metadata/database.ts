import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations/index.js';

export type DatabaseOptions =
  | { driver: 'sqlite'; path: string }
  | { driver: 'postgres'; url: string; poolSize: number };

export type Db = Kysely<Database>;

const PG_INT8 = 20;

/** Opens the metadata database and brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<Db> {
  const db = options.driver === 'sqlite' ? openSqlite(options.path) : openPostgres(options.url, options.poolSize);
  try {
    await migrate(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

function openSqlite(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const connection = new SQLite(path);
  // WAL lets readers run beside the one writer; FULL fsyncs each commit (a pushed manifest
  // survives power loss); busy_timeout lets several worker processes share the file.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('busy_timeout = 10000');
  connection.pragma('foreign_keys = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
}

function openPostgres(url: string, poolSize: number): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Sizes and times are bigint columns; they fit a JS number (< 2^53) by a wide margin.
    types: { getTypeParser: (oid: number, format?: string) => (oid === PG_INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) },
  });
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
