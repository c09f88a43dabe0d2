import { setTimeout as sleep } from 'node:timers/promises';
import { BackendError, RegistryError } from '../errors.js';
import { tokenBucket } from '../lib/token-bucket.js';
import type { RunItem, RunRecord } from '../metadata/replication-runs.js';
import type { MetadataStore } from '../metadata/store.js';
import { UpstreamError } from '../mirror/upstream-error.js';
import type { CopyContext } from './copy-context.js';
import { runProgressWriter } from './progress.js';
import type { Rule, RuleEngine, RunSession } from './rule.js';

/** Structured logging, pino-compatible: static lower-case messages, values as fields. */
export interface ReplicationLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface RetryPolicy {
  /** Attempts an image gets when its failures are transient (an unreachable registry, a 5xx, a 429). */
  maxAttempts: number;
  /** First retry delay; each next one doubles, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
}

export interface RunnerDeps {
  metadata: MetadataStore;
  engines: { pull: RuleEngine | undefined; push: RuleEngine };
  retry: RetryPolicy;
  now: () => number;
  log: ReplicationLog;
}

/** Whether trying again later may succeed. */
export function isTransient(error: unknown): boolean {
  if (error instanceof UpstreamError) return error.transient;
  if (error instanceof BackendError) return true;
  if (error instanceof RegistryError) return error.code === 'UNAVAILABLE' || error.code === 'TOOMANYREQUESTS';
  // Sockets and streams failing outside the client's own mapping (a body cut short).
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^(ECONN|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ERR_STREAM_PREMATURE_CLOSE)/.test(code);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 2000);

/**
 * Executes one run of a rule while the caller holds the rule's lease. A fresh run first lists its
 * images (unless a trigger queued them); then each open image is copied, with retries and backoff
 * for transient failures. Items and counters are written as it goes, so a run whose runner stops
 * (the lease lost, the process killed) is continued by the next runner where it was: finished
 * images stay finished, and a half-copied image is completed (what the destination has is
 * skipped). When `signal` aborts, the run is left running for that next runner.
 */
export async function executeRun(deps: RunnerDeps, rule: Rule, run: RunRecord, signal: AbortSignal): Promise<void> {
  const { metadata, now, log } = deps;
  const runs = metadata.replicationRuns;
  await runs.start(run.id, now());
  const engine = rule.definition.kind === 'pull' ? deps.engines.pull : deps.engines.push;
  if (!engine) {
    await runs.finish(run.id, 'failed', 'pull rules need the mirror: no mirror.upstreams are configured', now());
    return;
  }
  const progress = runProgressWriter(runs, run.id, now, (error) => log.warn({ err: error, run: run.id }, 'writing replication progress failed'));
  const context: CopyContext = {
    ruleId: rule.id,
    signal,
    bucket: rule.bandwidthBytesPerSecond ? tokenBucket(rule.bandwidthBytesPerSecond, now) : undefined,
    progress,
  };
  let session: RunSession | undefined;
  try {
    session = await engine.open(rule, context);
    let items = await runs.openItems(run.id);
    if (items.length === 0 && run.imagesTotal === 0) {
      const planned = await session.plan();
      await runs.addItems(run.id, planned, now());
      items = await runs.openItems(run.id);
      log.info({ rule: rule.name, run: run.id, images: planned.length, unlisted: planned.length - items.length }, 'replication run planned');
    }
    let stopAll: string | undefined;
    for (const item of items) {
      if (signal.aborted) return;
      if (stopAll !== undefined) {
        await runs.setItem(run.id, item.seq, { status: 'failed', error: `not attempted: ${stopAll}` }, now());
        continue;
      }
      const failure = await copyItem(deps, session, run, item, progress, signal);
      // A registry that stays unreachable fails every image the same way: say it once, move on.
      if (failure?.transient) stopAll = failure.message;
    }
    if (signal.aborted) return;
    const { count, first } = await runs.failures(run.id);
    if (count === 0) await session.complete?.();
    const error = first ? `${count} ${count === 1 ? 'image' : 'images'} failed; first ${first.repository}:${first.reference}: ${first.error ?? 'unknown error'}` : null;
    await progress.stop();
    await runs.finish(run.id, error === null ? 'succeeded' : 'failed', error, now());
    log.info({ rule: rule.name, run: run.id, failed: count }, 'replication run finished');
  } catch (error) {
    if (signal.aborted) return;
    log.error({ err: error, rule: rule.name, run: run.id }, 'replication run failed');
    await progress.stop();
    await runs.finish(run.id, 'failed', messageOf(error), now());
  } finally {
    await progress.stop();
    session?.close();
  }
}

/** Copies one image with retries; resolves with the failure that ended it, if any. */
async function copyItem(
  deps: RunnerDeps,
  session: RunSession,
  run: RunRecord,
  item: RunItem,
  progress: ReturnType<typeof runProgressWriter>,
  signal: AbortSignal,
): Promise<{ message: string; transient: boolean } | undefined> {
  const runs = deps.metadata.replicationRuns;
  const { retry, now } = deps;
  let attempts = item.attempts;
  progress.nextItem();
  for (;;) {
    attempts += 1;
    await runs.setItem(run.id, item.seq, { status: 'running', attempts }, now());
    try {
      const outcome = await session.copy({ repository: item.repository, reference: item.reference });
      await runs.setItem(run.id, item.seq, { status: outcome.status, digest: outcome.digest, bytes: item.bytes + progress.itemBytes, error: null }, now());
      await progress.flush(outcome.status === 'done' ? { imagesDone: 1 } : { imagesSkipped: 1 });
      return undefined;
    } catch (error) {
      if (signal.aborted) throw error;
      const transient = isTransient(error);
      const message = messageOf(error);
      if (transient && attempts < retry.maxAttempts) {
        const delay = Math.min(retry.maxMs, retry.baseMs * 2 ** (attempts - 1));
        deps.log.warn({ run: run.id, repository: item.repository, reference: item.reference, attempt: attempts, retryInMs: delay, reason: message }, 'replication copy failed, retrying');
        await runs.setItem(run.id, item.seq, { error: `attempt ${attempts}: ${message}` }, now());
        await sleep(delay, undefined, { signal });
        continue;
      }
      deps.log.warn({ run: run.id, repository: item.repository, reference: item.reference, attempts, reason: message }, 'replication copy failed');
      await runs.setItem(run.id, item.seq, { status: 'failed', bytes: item.bytes + progress.itemBytes, error: message }, now());
      await progress.flush({ imagesFailed: 1 });
      return { message, transient };
    }
  }
}
