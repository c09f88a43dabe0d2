import { randomUUID } from 'node:crypto';
import { RegistryError } from '../errors.js';
import { runExclusive } from '../lib/exclusive.js';
import type { TaskLog } from '../lib/logger.js';
import type { MetadataStore } from '../metadata/store.js';
import { EVICTION_STALE_MS, GC_LEASE, type ContentReclaimer, type ReclaimedBlob } from '../registry/content.js';
import type { StorageDriver } from '../storage/driver.js';
import { executePlan } from './execute.js';
import { gcPacer, type GcPacer } from './pacer.js';
import { planGc, type GcPlan } from './plan.js';
import { defaultPolicy, parsePolicy, type ProjectPolicy } from './policy.js';
import { countsOf, emptyItems, truncateItems, type GcItems, type GcReport, type GcTrigger } from './report.js';
import { reportOf } from './report-rows.js';
import type { TagProtection } from './tag-protection.js';

export interface GcSettings {
  /** Links, blobs and orphan bytes younger than this are left alone (`gc.graceSeconds`). */
  graceMs: number;
  /** Untagged manifests are kept this long after their last push, tag or pull (`gc.untaggedGraceHours`). */
  untaggedGraceMs: number;
  /** Upload sessions untouched this long are purged (`storage.uploadPurgeAfterHours`). */
  uploadPurgeAfterMs: number;
  /** The GC lease's time to live: how long a crashed run blocks the next one. */
  leaseTtlMs: number;
  /** The share of the time a run works, resting between steps (`gc.dutyCycle`, pacer.ts). */
  dutyCycle: number;
}

/** The slice of a pino logger GC writes to. */
export type GcLog = TaskLog;

export interface GcRunnerDeps {
  metadata: MetadataStore;
  storage: Pick<StorageDriver, 'list' | 'stat' | 'uploadSize'>;
  content: ContentReclaimer;
  /** Upload ids the purge would remove for this cutoff (read-only). */
  staleUploads(before: number): AsyncIterable<string>;
  now: () => number;
  /** Names this process in the lease (unique per process). */
  holder: string;
  settings: GcSettings;
  protection: TagProtection;
  log: GcLog;
  /** After every run, once its report is stored: the audit log, metrics, events. */
  onFinished?(report: GcReport): void;
}

export interface GcRequest {
  dryRun: boolean;
  /** Only this project's repositories (and the blobs they release). */
  project?: string;
  /** Overrides `gc.graceSeconds` for this run. */
  graceSeconds?: number;
  trigger: GcTrigger;
  actor: string;
}

export interface GcRunner {
  /**
   * Takes the GC lease and starts a run in the background, resolving once the run is recorded
   * (listed as running); throws CONFLICT when another run (on any instance sharing the database)
   * holds the lease. `done` resolves with the report, also of a failed run (without its item
   * lists when the run happened in a worker thread: worker-runner.ts).
   */
  start(request: GcRequest): Promise<{ id: string; done: Promise<GcReport> }>;
  /** `start`, then its report. */
  run(request: GcRequest): Promise<GcReport>;
  /** Stored reports, newest first, without item lists. */
  list(limit: number): Promise<GcReport[]>;
  /** One stored report with its item lists. */
  get(id: string): Promise<GcReport | undefined>;
  /** Resolves when this process runs no GC. */
  idle(): Promise<void>;
  /**
   * Server shutdown: a running run stops at its next step (recorded `interrupted`; what it left
   * half done, the next run finishes), then resolves like `idle`.
   */
  stop(): Promise<void>;
}

/** Why a run stopped at shutdown (its error in the report). */
export const STOPPED_AT_SHUTDOWN = 'stopped: the server is shutting down';

/** The pacer, checking between steps whether the run must stop. */
function stoppable(pacer: GcPacer, signal: AbortSignal): GcPacer {
  return {
    ...pacer,
    async rest() {
      signal.throwIfAborted();
      await pacer.rest();
      signal.throwIfAborted();
    },
  };
}

export function gcRunner(deps: GcRunnerDeps): GcRunner {
  const { metadata, settings, log } = deps;
  const running = new Set<Promise<unknown>>();
  const shutdown = new AbortController();

  async function policies(): Promise<(project: string) => ProjectPolicy> {
    const stored = new Map<string, ProjectPolicy>();
    for (const [project, text] of await metadata.policies.all()) {
      try {
        stored.set(project, parsePolicy(JSON.parse(text)));
      } catch (error) {
        log.warn({ project, reason: (error as Error).message }, 'stored policy ignored');
      }
    }
    return (project) => stored.get(project) ?? defaultPolicy;
  }

  /** Deletions a crashed run left half done: a real run finishes them first, a dry run lists them. */
  async function leftovers(dryRun: boolean, signal: AbortSignal): Promise<{ deleted: ReclaimedBlob[]; failed: string[] }> {
    if (!dryRun) return deps.content.finishDeletions(signal);
    const rows = await metadata.reclaim.finishable({ evictionStaleBefore: deps.now() - EVICTION_STALE_MS, limit: 100_000 });
    return { deleted: rows.map(({ digest, size }) => ({ digest, size })), failed: [] };
  }

  async function work(id: string, request: GcRequest, leaseSignal: AbortSignal, recorded: () => void): Promise<GcReport> {
    const signal = AbortSignal.any([leaseSignal, shutdown.signal]);
    const startedAt = deps.now();
    const graceMs = request.graceSeconds === undefined ? settings.graceMs : request.graceSeconds * 1000;
    const uploadsBefore = startedAt - settings.uploadPurgeAfterMs;
    // We hold the lease: a run still marked running is one whose process died.
    await metadata.gcRuns.interruptRunning(startedAt);
    await metadata.gcRuns.start({
      id,
      started_at: startedAt,
      dry_run: request.dryRun ? 1 : 0,
      trigger: request.trigger,
      actor: request.actor,
      project: request.project ?? null,
      grace_ms: graceMs,
    });
    recorded();
    let items: GcItems = emptyItems();
    let failed = 0;
    let error: string | null = null;
    let interrupted = false;
    const pacer = stoppable(gcPacer(settings.dutyCycle), signal);
    try {
      const left = request.project === undefined ? await leftovers(request.dryRun, signal) : { deleted: [], failed: [] };
      const plan = await planGc(
        {
          scan: metadata.gcScan,
          repositoryNames: (after, limit) => metadata.repositories.list({ ...(after !== undefined ? { last: after } : {}), limit }),
          storage: deps.storage,
          policyOf: await policies(),
          protection: deps.protection,
          staleUploads: () => deps.staleUploads(uploadsBefore),
          pacer,
        },
        { now: startedAt, before: startedAt - graceMs, untaggedBefore: startedAt - settings.untaggedGraceMs, ...(request.project !== undefined ? { project: request.project } : {}) },
      );
      if (request.dryRun) items = itemsOf(plan);
      else ({ items, failed } = await executePlan(plan, { metadata, content: deps.content, signal, pacer }, { before: startedAt - graceMs, uploadsBefore }));
      items.blobs.unshift(...left.deleted);
      failed += left.failed.length;
    } catch (caught) {
      interrupted = shutdown.signal.aborted;
      if (interrupted) error = STOPPED_AT_SHUTDOWN;
      else {
        error = (caught as Error).message ?? String(caught);
        log.error({ gcRun: id, err: caught }, 'gc failed');
      }
    }
    const finishedAt = deps.now();
    const { items: stored, truncated } = truncateItems(items);
    const summary = { ...countsOf(items), failed, truncated };
    const status = error === null ? 'finished' : interrupted ? 'interrupted' : 'failed';
    await metadata.gcRuns.finish(id, {
      finished_at: finishedAt,
      status,
      summary: JSON.stringify(summary),
      items: JSON.stringify(stored),
      error,
    });
    // The caller gets every item; the stored report keeps the first ITEM_LIMIT of each kind.
    const report: GcReport = {
      ...reportOf({ id, started_at: startedAt, finished_at: finishedAt, status, dry_run: request.dryRun ? 1 : 0, trigger: request.trigger, actor: request.actor, project: request.project ?? null, grace_ms: graceMs, summary: JSON.stringify(summary), error }),
      items,
    };
    const { items: _items, ...fields } = report;
    log.info({ ...fields, gcRun: id }, request.dryRun ? 'gc dry run finished' : 'gc finished');
    deps.onFinished?.(report);
    return report;
  }

  const runner: GcRunner = {
    async start(request) {
      const id = randomUUID();
      let started!: (ran: boolean) => void;
      const began = new Promise<boolean>((resolve) => (started = resolve));
      const outcome = runExclusive(
        metadata.leases,
        GC_LEASE,
        { holder: `${deps.holder}:gc:${id}`, ttlMs: settings.leaseTtlMs, now: deps.now, onRenewError: (err) => log.warn({ err }, 'gc lease renewal failed') },
        (signal) => work(id, request, signal, () => started(true)),
      ).then(
        (result) => {
          started(result.ran);
          return result;
        },
        (caught: unknown) => {
          started(false);
          throw caught;
        },
      );
      const tracked = outcome.catch(() => undefined);
      running.add(tracked);
      void tracked.finally(() => running.delete(tracked));
      if (!(await began)) {
        await outcome;
        throw new RegistryError('CONFLICT', 'a garbage collection is running already', { detail: { lease: (await metadata.leases.get(GC_LEASE))?.holder } });
      }
      const done = outcome.then((result) => (result.ran ? result.value : Promise.reject(new Error('gc did not run'))));
      // A caller that only starts a run (the API) does not wait for it, so a run that ends without
      // storing its report (the database went away) must not become an unhandled rejection, which
      // ends the process. The next run marks its record interrupted.
      done.catch((caught: unknown) => log.error({ gcRun: id, err: caught }, 'gc run ended without storing its report'));
      return { id, done };
    },
    async run(request) {
      return (await runner.start(request)).done;
    },
    async list(limit) {
      return (await metadata.gcRuns.list(limit)).map(reportOf);
    },
    async get(id) {
      const row = await metadata.gcRuns.get(id);
      if (!row) return undefined;
      const items = row.items ? (JSON.parse(row.items) as GcItems) : undefined;
      return { ...reportOf(row), ...(items ? { items } : {}) };
    },
    async idle() {
      while (running.size > 0) await Promise.all(running);
    },
    async stop() {
      shutdown.abort(new Error(STOPPED_AT_SHUTDOWN));
      await runner.idle();
    },
  };
  return runner;
}

/** A dry run's items: what the plan would remove. */
function itemsOf(plan: GcPlan): GcItems {
  const items = emptyItems();
  for (const repo of plan.repositories) {
    const { repository } = repo;
    for (const t of repo.tags) items.tags.push({ repository, tag: t.name, digest: t.digest, reason: t.reason });
    for (const m of repo.manifests) items.manifests.push({ repository, digest: m.digest, size: m.size });
    for (const digest of repo.links) items.links.push({ repository, digest });
  }
  items.blobs.push(...plan.blobs);
  items.orphans.push(...plan.orphans);
  items.uploads.push(...plan.uploads);
  return items;
}
