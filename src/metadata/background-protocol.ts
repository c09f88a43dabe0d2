/** Messages between background-writer.ts and its SQLite worker thread. */

export interface BackgroundInit {
  path: string;
  busyTimeoutMs: number;
  checkpointIntervalMs: number;
}

export interface CompiledStatement {
  sql: string;
  parameters: readonly unknown[];
}

export type BackgroundCommand =
  | { kind: 'write'; statements: CompiledStatement[] }
  | { kind: 'checkpoint'; mode: 'PASSIVE' | 'TRUNCATE' }
  | { kind: 'close' };

export type BackgroundRequest = BackgroundCommand & { id: number };

export interface CheckpointResult {
  /** Frames in the WAL when it ran, and how many of them are now in the database file. */
  walFrames: number;
  checkpointed: number;
  seconds: number;
}

/** `id` 0: a checkpoint the worker ran on its own timer (for the metrics). */
export type BackgroundReply =
  | { id: number; ok: true; checkpoint?: CheckpointResult }
  | { id: number; ok: false; message: string; code?: string };
