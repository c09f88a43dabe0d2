import { Worker } from 'node:worker_threads';
import { CompiledQuery, SqliteAdapter } from 'kysely';
import type { BackgroundCommand, BackgroundInit, BackgroundReply, BackgroundRequest, CheckpointResult, CompiledStatement } from './background-protocol.js';
import type { Db } from './database.js';

export type { CheckpointResult, CompiledStatement } from './background-protocol.js';

/**
 * Writes that can wait a moment (pull counts, audit events), run where they do not stop the event
 * loop: with SQLite in a worker thread that has its own connection to the file (its commit and
 * fsync happen there), with PostgreSQL on the pool as usual.
 *
 * The same thread checkpoints the WAL (PASSIVE: it never blocks a reader or writer) soon after
 * commits. SQLite still checkpoints on the main connection when a commit finds 1000 pages in the
 * WAL, as before — only that step can make the next write start the WAL over, while writes go on
 * without a pause — but by then the worker has copied nearly every page and synced the file, so
 * what remains on the event loop is the last few pages instead of all of them.
 */
export interface BackgroundWriter {
  /** Runs the statements in one transaction: all of them commit, or none. */
  write(statements: CompiledStatement[]): Promise<void>;
  /** Checkpoints the WAL now (SQLite's worker only; else resolves undefined). TRUNCATE also empties the file. */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): Promise<CheckpointResult | undefined>;
  /** Whether writes run off the event loop (false: inline, on the main connection). */
  readonly offThread: boolean;
  /**
   * Stops the worker thread while nothing is asked of it (an idle server: its isolate and
   * connection are ~15 MiB); the next write or checkpoint starts another. Resolves whether it stopped.
   */
  park(): Promise<boolean>;
  close(): Promise<void>;
}

export interface BackgroundOptions {
  /** The SQLite file; absent or `:memory:` (or PostgreSQL): inline writes, SQLite's own checkpoints. */
  sqlitePath?: string | undefined;
  busyTimeoutMs?: number;
  /** How often the worker looks for commits to checkpoint while writes go on (default 100 ms; idle: 10×). */
  checkpointIntervalMs?: number;
  onCheckpoint?(result: CheckpointResult): void;
  /**
   * The worker failed, or a new one did not start: writes continue inline (checkpoints were never
   * only its job) until a new worker is tried, `retryAfterMs` later (default 30 s).
   */
  onError(error: unknown): void;
  retryAfterMs?: number;
}

const STARTUP_TIMEOUT_MS = 30_000;

/** Runs batches on the main connection (PostgreSQL: an async pool; SQLite: the fallback). */
export function inlineWriter(db: Db): BackgroundWriter {
  return {
    offThread: !(db.getExecutor().adapter instanceof SqliteAdapter),
    async write(statements) {
      if (statements.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (const s of statements) await trx.executeQuery(CompiledQuery.raw(s.sql, [...s.parameters]));
      });
    },
    async checkpoint() {
      return undefined;
    },
    async park() {
      return false;
    },
    async close() {},
  };
}

/** One worker thread and its connection; `ask` sends a command and waits for the answer. */
interface WorkerHandle {
  ask(request: BackgroundCommand): Promise<BackgroundReply & { ok: true }>;
  /** Owes no answer. */
  readonly quiet: boolean;
  close(): Promise<void>;
}

export async function startBackgroundWriter(db: Db, options: BackgroundOptions): Promise<BackgroundWriter> {
  const inline = inlineWriter(db);
  const path = options.sqlitePath;
  if (!(db.getExecutor().adapter instanceof SqliteAdapter) || !path || path === ':memory:') return inline;

  let closing = false;
  // The worker failed: inline until then, when the next write or checkpoint tries a new one (it
  // is stopped and started at every idle period, so one failed start must not be for good).
  let inlineUntil = 0;
  const retryAfterMs = options.retryAfterMs ?? 30_000;
  let current: Promise<WorkerHandle> | undefined;
  const fail = (failedWorker: Promise<WorkerHandle> | undefined, error: unknown) => {
    if (closing) return;
    if (current === failedWorker) current = undefined;
    inlineUntil = Date.now() + retryAfterMs;
    options.onError(error);
  };
  const spawn = () => {
    const started: Promise<WorkerHandle> = spawnWorker(
      { path, busyTimeoutMs: options.busyTimeoutMs ?? 2_000, checkpointIntervalMs: options.checkpointIntervalMs ?? 100 },
      options,
      (error) => fail(started, error),
    );
    return started;
  };

  // Started now, so that a file the worker cannot open shows at start-up.
  current = spawn();
  try {
    await current;
  } catch (error) {
    current = undefined;
    options.onError(error);
    return inline;
  }
  /** The running worker, a new one, or undefined while writes stay inline. */
  const worker = async (): Promise<WorkerHandle | undefined> => {
    if (closing || Date.now() < inlineUntil) return undefined;
    const running = (current ??= spawn());
    try {
      return await running;
    } catch (error) {
      fail(running, error);
      return undefined;
    }
  };

  return {
    offThread: true,
    async write(statements) {
      if (statements.length === 0) return;
      const handle = await worker();
      if (!handle) return inline.write(statements);
      await handle.ask({ kind: 'write', statements: statements.map((s) => ({ sql: s.sql, parameters: s.parameters })) });
    },
    async checkpoint(mode) {
      const handle = await worker();
      return handle && (await handle.ask({ kind: 'checkpoint', mode })).checkpoint;
    },
    async park() {
      const running = current;
      if (closing || !running) return false;
      const handle = await running.catch(() => undefined);
      // Work is in flight, or another call parked or replaced it meanwhile: it stays.
      if (!handle || !handle.quiet || current !== running) return false;
      current = undefined;
      // Its last checkpoint copies what it had not yet; the main connection checkpoints the rest.
      await handle.ask({ kind: 'checkpoint', mode: 'PASSIVE' }).catch(() => undefined);
      await handle.close();
      return true;
    },
    async close() {
      if (closing) return;
      closing = true;
      const handle = await current?.catch(() => undefined);
      current = undefined;
      await handle?.close();
    },
  };
}

async function spawnWorker(init: BackgroundInit, options: BackgroundOptions, onFailure: (error: Error) => void): Promise<WorkerHandle> {
  const worker = new Worker(new URL('./sqlite-background-worker.js', import.meta.url), {
    workerData: init,
    // It only holds a connection and a few statements.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
  });
  worker.unref();
  const pending = new Map<number, { resolve: (reply: BackgroundReply & { ok: true }) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let ended: Error | undefined;
  let closing = false;
  // Until it answers, a failure rejects the start (its caller reports it), not onFailure.
  let running = false;

  const end = (error: Error) => {
    if (ended) return;
    ended = error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
    if (running && !closing) onFailure(error);
  };
  worker.on('error', end);
  worker.on('exit', (code) => end(new Error(`the SQLite background worker exited (code ${code})`)));
  worker.on('message', (reply: BackgroundReply) => {
    if (reply.id === 0) {
      if (reply.ok && reply.checkpoint) options.onCheckpoint?.(reply.checkpoint);
      return;
    }
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (pending.size === 0 && !closing) worker.unref();
    if (reply.ok) waiter.resolve(reply);
    else waiter.reject(Object.assign(new Error(reply.message), reply.code ? { code: reply.code } : {}));
  });

  const ask = (request: BackgroundCommand): Promise<BackgroundReply & { ok: true }> => {
    if (ended) return Promise.reject(ended);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      // Referenced while it owes an answer: a pending write keeps the process alive.
      worker.ref();
      worker.postMessage({ ...request, id } satisfies BackgroundRequest);
    });
  };
  const close = async () => {
    if (closing) return;
    closing = true;
    if (ended) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await ask({ kind: 'close' }).catch(() => undefined);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    await worker.terminate();
  };

  // The worker opened the file once it answers.
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ask({ kind: 'checkpoint', mode: 'PASSIVE' }),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('the SQLite background worker did not start')), STARTUP_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    closing = true;
    await worker.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  running = true;
  return {
    ask,
    get quiet() {
      return pending.size === 0;
    },
    close,
  };
}
