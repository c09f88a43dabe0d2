import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import type { ContentReclaimer } from './content.js';

/**
 * The upload purge: abandoned upload sessions are deleted once nobody has touched them for
 * `maxAgeMs`. Two sweeps, because the truth is in two places:
 *
 * 1. sessions — rows in the metadata whose last change is older than the cutoff: the row goes
 *    first (from then on the session is unknown to clients), then the bytes in the store, through
 *    the one delete path (`reclaimUpload`: the row goes only if it is still untouched);
 * 2. orphans — uploads the driver holds with no live row (a crash between the two writes of a
 *    start or a purge, a bytes abort that failed, a row lost with its database). On S3 the same
 *    call also aborts multipart uploads a crash left behind (see s3-uploads.ts).
 *
 * And the store's temporary files older than the cutoff (the filesystem store's `tmp/`: an object
 * write or a manifest's staged bytes cut off by a crash before the rename).
 *
 * Every instance may run it: aborting twice is harmless, and a row touched after the cutoff is
 * left alone.
 */
export interface UploadPurgeDeps {
  metadata: MetadataStore;
  storage: StorageDriver;
  content: ContentReclaimer;
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
  /** Their ids and those of the orphans, and the bytes they held, for GC's report. */
  ids: string[];
  bytes: number;
  /** Driver uploads with no live row. */
  orphans: number;
  /** Uploads whose abort failed (retried on the next run). */
  failed: number;
  /** The store's temporary files a crash left (a write cut off before its rename). */
  temporaries: number;
}

const BATCH = 100;

/** A stale session (its row is old) or an orphan (bytes with no live row). */
export interface StaleUpload {
  id: string;
  kind: 'session' | 'orphan';
}

/** What the purge would delete now: read-only (GC's dry run lists it, the purge deletes it). */
export async function* findStaleUploads(deps: Pick<UploadPurgeDeps, 'metadata' | 'storage'>, before: number): AsyncGenerator<StaleUpload> {
  let after: string | undefined;
  for (;;) {
    const stale = await deps.metadata.uploads.staleSince(before, BATCH, after);
    for (const record of stale) yield { id: record.id, kind: 'session' };
    if (stale.length < BATCH) break;
    after = stale[stale.length - 1]!.id;
  }
  for await (const id of deps.storage.staleUploads(new Date(before))) {
    const record = await deps.metadata.uploads.get(id);
    // A row means a session: stale ones were listed above, fresh ones are in use (bytes arrive
    // seldom, rows say when).
    if (!record) yield { id, kind: 'orphan' };
  }
}

/** One run of the purge. Errors of single uploads are logged and counted, not thrown. */
export async function purgeStaleUploads(deps: UploadPurgeDeps): Promise<PurgeResult> {
  const { content, log } = deps;
  const before = deps.now() - deps.maxAgeMs;
  const result: PurgeResult = { sessions: 0, ids: [], bytes: 0, orphans: 0, failed: 0, temporaries: 0 };
  // Listed first, deleted after: deleting while paging would skip rows.
  const stale: StaleUpload[] = [];
  for await (const upload of findStaleUploads(deps, before)) stale.push(upload);
  for (const { id, kind } of stale) {
    try {
      const freed = await content.reclaimUpload(id, before);
      if (freed === undefined) continue;
      result.ids.push(id);
      result.bytes += freed;
      if (kind === 'session') result.sessions++;
      else result.orphans++;
    } catch (error) {
      result.failed++;
      log.error({ upload: id, kind, err: error }, 'upload purge failed');
    }
  }
  result.temporaries = await (deps.storage.purgeTemporaries?.(new Date(before)).catch((error: unknown) => {
    log.error({ err: error }, 'temporary file purge failed');
    return 0;
  }) ?? 0);
  if (result.sessions + result.orphans + result.failed + result.temporaries > 0) {
    log.info({ sessions: result.sessions, orphans: result.orphans, failed: result.failed, temporaries: result.temporaries }, 'upload purge done');
  }
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
