import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';

/**
 * The upload purge: abandoned upload sessions are deleted once nobody has touched them for
 * `maxAgeMs`. Two sweeps, because the truth is in two places:
 *
 * 1. sessions — rows in the metadata whose last change is older than the cutoff: the row goes
 *    first (from then on the session is unknown to clients), then the bytes in the store;
 * 2. orphans — uploads the driver holds with no live row (a crash between the two writes of a
 *    start or a purge, a bytes abort that failed, a row lost with its database). On S3 the same
 *    call also aborts multipart uploads a crash left behind (see s3-uploads.ts).
 *
 * Every instance may run it: aborting twice is harmless, and a row touched after the cutoff is
 * left alone.
 */
export interface UploadPurgeDeps {
  metadata: MetadataStore;
  storage: StorageDriver;
  now: () => number;
  /** Sessions untouched for longer than this are purged. */
  maxAgeMs: number;
  log: PurgeLog;
}

/** The slice of a pino logger the purge writes to. */
export interface PurgeLog {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface PurgeResult {
  /** Sessions whose row was stale. */
  sessions: number;
  /** Driver uploads with no live row. */
  orphans: number;
  /** Uploads whose abort failed (retried on the next run). */
  failed: number;
}

const BATCH = 100;

/** One run of the purge. Errors of single uploads are logged and counted, not thrown. */
export async function purgeStaleUploads(deps: UploadPurgeDeps): Promise<PurgeResult> {
  const { metadata, storage, log } = deps;
  const before = deps.now() - deps.maxAgeMs;
  const result: PurgeResult = { sessions: 0, orphans: 0, failed: 0 };

  const abort = async (id: string, kind: 'session' | 'orphan'): Promise<boolean> => {
    try {
      await metadata.uploads.remove(id);
      await storage.abortUpload(id);
      return true;
    } catch (error) {
      result.failed++;
      log.error({ upload: id, kind, err: error }, 'upload purge failed');
      return false;
    }
  };

  // A row whose abort failed is gone already or stays stale; stop when a batch makes no progress.
  for (;;) {
    const stale = await metadata.uploads.staleSince(before, BATCH);
    let done = 0;
    for (const record of stale) if (await abort(record.id, 'session')) done++;
    result.sessions += done;
    if (stale.length < BATCH || done === 0) break;
  }

  for await (const id of storage.staleUploads(new Date(before))) {
    const record = await metadata.uploads.get(id);
    if (record && record.updatedAt >= before) continue; // still in use: bytes arrive seldom, rows say when
    if (await abort(id, 'orphan')) result.orphans++;
  }

  if (result.sessions + result.orphans + result.failed > 0) log.info({ ...result }, 'upload purge done');
  return result;
}

export interface UploadPurgeTask {
  /** Runs the purge now (or joins the run in progress). */
  runNow(): Promise<PurgeResult>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs the purge every `intervalMs` (first run after `firstRunMs`) on unref'd timers, so it never
 * keeps the process alive. One run at a time per process.
 */
export function startUploadPurge(deps: UploadPurgeDeps, timing: { intervalMs: number; firstRunMs: number }): UploadPurgeTask {
  let running: Promise<PurgeResult> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const runNow = (): Promise<PurgeResult> => {
    running ??= purgeStaleUploads(deps).finally(() => {
      running = undefined;
    });
    return running;
  };
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      runNow()
        .catch((error: unknown) => deps.log.error({ err: error }, 'upload purge failed'))
        .finally(() => schedule(timing.intervalMs));
    }, delay);
    timer.unref();
  };
  schedule(timing.firstRunMs);

  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

/** How often to purge for a given age limit: a quarter of it, between one minute and one hour. */
export function purgeIntervalMs(maxAgeMs: number): number {
  return Math.min(Math.max(maxAgeMs / 4, 60_000), 3_600_000);
}
