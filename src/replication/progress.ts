import type { ReplicationRunStore, RunProgress } from '../metadata/replication-runs.js';
import type { ProgressSink } from './copy-context.js';

/** How often a running copy writes its byte count (the console shows progress from it). */
const FLUSH_MS = 1_000;

export interface RunProgressWriter extends ProgressSink {
  /** Bytes moved for the current image so far. */
  readonly itemBytes: number;
  /** Starts counting a new image's bytes. */
  nextItem(): void;
  /** Adds image counters and writes everything pending now. */
  flush(images?: Pick<RunProgress, 'imagesDone' | 'imagesSkipped' | 'imagesFailed'>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Counts what a run moves and writes it to the run's row about once a second (one small UPDATE),
 * so the API can show progress while a blob is still on its way.
 */
export function runProgressWriter(runs: ReplicationRunStore, runId: string, now: () => number, onError: (error: unknown) => void): RunProgressWriter {
  let pending: Required<Pick<RunProgress, 'bytes' | 'blobsCopied' | 'blobsSkipped'>> = { bytes: 0, blobsCopied: 0, blobsSkipped: 0 };
  let itemBytes = 0;
  let writing: Promise<void> = Promise.resolve();

  const write = (images: RunProgress = {}) => {
    const delta = { ...pending, ...images };
    pending = { bytes: 0, blobsCopied: 0, blobsSkipped: 0 };
    writing = writing.then(() => runs.addProgress(runId, delta, now())).catch((error: unknown) => {
      // Not lost: added back to what the next write carries.
      pending.bytes += delta.bytes;
      pending.blobsCopied += delta.blobsCopied;
      pending.blobsSkipped += delta.blobsSkipped;
      onError(error);
    });
    return writing;
  };
  const timer = setInterval(() => {
    if (pending.bytes > 0 || pending.blobsCopied > 0 || pending.blobsSkipped > 0) void write();
  }, FLUSH_MS);
  timer.unref();

  return {
    bytes(n) {
      pending.bytes += n;
      itemBytes += n;
    },
    blob(copied) {
      if (copied) pending.blobsCopied += 1;
      else pending.blobsSkipped += 1;
    },
    get itemBytes() {
      return itemBytes;
    },
    nextItem() {
      itemBytes = 0;
    },
    flush: (images) => write(images),
    async stop() {
      clearInterval(timer);
      await write();
    },
  };
}
