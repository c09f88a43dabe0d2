/**
 * A worker thread with its own connection to the SQLite file: it runs batches of writes that can
 * wait (pull counts, audit events) and PASSIVE WAL checkpoints, so their commits, copies and
 * fsyncs do not stop the event loop. See background-writer.ts for the other end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import type { BackgroundReply, BackgroundRequest, BackgroundInit } from './background-protocol.js';

const init = workerData as BackgroundInit;
const port = parentPort!;
const db = new SQLite(init.path);
db.pragma(`busy_timeout = ${Math.trunc(init.busyTimeoutMs)}`);
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
// This connection checkpoints on its own schedule, never on a commit.
db.pragma('wal_autocheckpoint = 0');

const statements = new Map<string, SQLite.Statement>();
const prepare = (sql: string): SQLite.Statement => {
  let statement = statements.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    if (statements.size >= 128) statements.delete(statements.keys().next().value!);
    statements.set(sql, statement);
  }
  return statement;
};

let wrote = false;
let seenVersion = db.pragma('data_version', { simple: true }) as number;

/** A PASSIVE checkpoint never waits for readers or writers; it runs only after some commit. */
function checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): { walFrames: number; checkpointed: number } {
  const version = db.pragma('data_version', { simple: true }) as number;
  if (mode === 'PASSIVE' && !wrote && version === seenVersion) return { walFrames: 0, checkpointed: 0 };
  wrote = false;
  seenVersion = version;
  const [row] = db.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[];
  return { walFrames: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 };
}

/** Every interval while commits come, ten times slower once they stop. */
let timer = setTimeout(function tick() {
  let busy = false;
  try {
    const started = performance.now();
    const result = checkpoint('PASSIVE');
    busy = result.walFrames > 0;
    if (busy) port.postMessage({ id: 0, ok: true, checkpoint: { ...result, seconds: (performance.now() - started) / 1000 } } satisfies BackgroundReply);
  } catch {
    // Busy (another connection checkpoints) or a transient error: the next tick tries again.
  }
  timer = setTimeout(tick, busy ? init.checkpointIntervalMs : init.checkpointIntervalMs * 10);
}, init.checkpointIntervalMs);

port.on('message', (request: BackgroundRequest) => {
  let reply: BackgroundReply;
  try {
    if (request.kind === 'write') {
      db.transaction(() => {
        for (const { sql, parameters } of request.statements) {
          const statement = prepare(sql);
          if (statement.reader) statement.all(parameters);
          else statement.run(parameters);
        }
      }).immediate();
      wrote = true;
      reply = { id: request.id, ok: true };
    } else if (request.kind === 'checkpoint') {
      reply = { id: request.id, ok: true, checkpoint: { ...checkpoint(request.mode), seconds: 0 } };
    } else {
      clearTimeout(timer);
      db.close();
      port.postMessage({ id: request.id, ok: true } satisfies BackgroundReply);
      port.close();
      return;
    }
  } catch (error) {
    const { message, code } = error as { message?: string; code?: string };
    reply = { id: request.id, ok: false, message: message ?? String(error), ...(code ? { code } : {}) };
  }
  port.postMessage(reply);
});
