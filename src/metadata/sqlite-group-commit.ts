import { SqliteDialect, SqliteDriver, type Driver, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';
import { fileFlush, GroupSync, type FileFlush, type SyncObserver } from './group-sync.js';

/**
 * Group commit for the one SQLite connection of a process.
 *
 * better-sqlite3 is synchronous, so with `synchronous = FULL` every commit waited for its WAL
 * fsync on the event loop, and concurrent writers queued one fsync after another. Here the
 * connection commits with `synchronous = NORMAL` (the commit only writes its WAL frames) and the
 * writer that holds the connection, once it lets go of it, waits for an fsync of the WAL file
 * before its caller hears back. That fsync runs in the thread pool and is shared by every writer
 * waiting at the time, the way PostgreSQL flushes its WAL for many commits at once.
 *
 * Why this is as durable as FULL: a WAL file holds commits in order, each frame checksummed over
 * all before it, so after a power loss SQLite recovers a prefix of the commits; the fsync makes
 * that prefix reach past every commit made before it started. A checkpoint in between copies the
 * frames into the database file and syncs that file (NORMAL still syncs checkpoints), so frames
 * a restarted WAL overwrote are already safe. The difference from FULL: another request may see a
 * commit a moment before it is on disk. The writer itself has not answered yet, so nobody was told
 * it is stored; PostgreSQL's `synchronous_commit = off` would allow the same.
 */
export class SqliteCommits {
  private wrote = false;
  private relaxed = false;
  private readonly walFile: FileFlush | undefined;
  private readonly wal: GroupSync | undefined;

  /** `walPath` undefined: an in-memory database, nothing to flush. */
  constructor(walPath: string | undefined, observe?: SyncObserver) {
    this.walFile = walPath === undefined ? undefined : fileFlush(walPath);
    this.wal = this.walFile && new GroupSync(() => this.walFile!.flush(), observe);
  }

  /** The connection closes (SQLite removes the WAL): lets go of the WAL's descriptor. */
  async close(): Promise<void> {
    await this.walFile?.close();
  }

  /** A statement that changes the database ran on the connection. */
  noteWrite(): void {
    this.wrote = true;
  }

  /** The connection's holder committed only what a crash may take back (dialect.ts): no flush for it. */
  relaxRelease(): void {
    this.relaxed = true;
  }

  /**
   * Called as the holder lets go of the connection: waits for its writes to reach the disk. Only
   * a holder that wrote, and not relaxed: a relaxed holder's frames reach the disk with the next
   * flush anyone makes (a WAL fsync covers every frame before it), and a holder that only read
   * has nothing of its own to wait for.
   */
  released(): Promise<void> {
    const flush = this.wrote && !this.relaxed;
    this.wrote = false;
    this.relaxed = false;
    return flush ? (this.wal?.sync() ?? Promise.resolve()) : Promise.resolve();
  }
}

class GroupCommitDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly commits: SqliteCommits,
  ) {
    super(config);
  }

  override async releaseConnection(): Promise<void> {
    // Settled before the next holder runs; the flush itself is waited for outside the lock.
    const flushed = this.commits.released();
    await super.releaseConnection();
    await flushed;
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    await this.commits.close();
  }
}

export class GroupCommitSqliteDialect extends SqliteDialect {
  constructor(
    private readonly settings: SqliteDialectConfig,
    private readonly commits: SqliteCommits,
  ) {
    super(settings);
  }

  override createDriver(): Driver {
    return new GroupCommitDriver(this.settings, this.commits);
  }
}

/** What openDatabase keeps of a SQLite database: its group commit and its one connection. */
interface SqliteParts {
  commits: SqliteCommits;
  connection: SqliteDatabase;
}

// Keyed by the Kysely instance openDatabase returns (relaxed transactions and direct statements look theirs up).
const registered = new WeakMap<object, SqliteParts>();

export function registerSqlite(db: object, parts: SqliteParts): void {
  registered.set(db, parts);
}

/** The group commit of a SQLite database opened by openDatabase; undefined for PostgreSQL. */
export function commitsOf(db: object): SqliteCommits | undefined {
  return registered.get(db)?.commits;
}

/** The connection of a SQLite database opened by openDatabase; undefined for PostgreSQL. */
export function connectionOf(db: object): SqliteDatabase | undefined {
  return registered.get(db)?.connection;
}
