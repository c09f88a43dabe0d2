import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { runExclusive } from '../lib/exclusive.js';
import type { RunRecord } from '../metadata/replication-runs.js';
import { ruleOf, type Rule } from './rule.js';
import { executeRun, type RunnerDeps } from './runner.js';

export interface SchedulerOptions extends RunnerDeps {
  /** This process's lease holder name (`host:pid:uuid`). */
  holder: string;
  /** A rule's lease lasts this long unrenewed: how long a crashed runner holds its rule back. */
  leaseTtlMs: number;
  /** How often this instance looks for due schedules, queued triggers and runs to resume. */
  pollIntervalMs: number;
  /** Finished runs are kept this long. */
  runRetentionMs: number;
}

/** Executes rules' runs in this process, one runner per rule across every instance. */
export interface RuleRunner {
  /**
   * Takes the rule's lease and executes its runs (unfinished ones, then queued images, then a due
   * schedule) until none is left; false at once when another holder has the rule.
   */
  run(ruleId: string): Promise<boolean>;
  isRunning(ruleId: string): boolean;
  /** Resolves when this process runs nothing. */
  idle(): Promise<void>;
  /** Aborts every run here (they stay resumable); waits up to `graceMs` for them to stop. */
  abortAll(reason: Error, graceMs: number): Promise<void>;
}

export interface ReplicationScheduler {
  /** Looks for work now (a run was asked for, a trigger queued an image). */
  wake(): void;
  /** Resolves when this process looks for and runs nothing (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops looking for work and aborts running runs (they stay resumable); waits up to `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export const ruleLease = (ruleId: string) => `replication-rule:${ruleId}`;
const PURGE_EVERY_MS = 3_600_000;

/**
 * A rule's runs execute while its lease is held (renewed as they go), so an instance that dies
 * mid-run lets another (or itself, restarted) resume the run once the lease expires. A due
 * schedule is claimed with a conditional UPDATE, so it makes exactly one run.
 */
export function createRuleRunner(options: Omit<SchedulerOptions, 'pollIntervalMs' | 'runRetentionMs'>): RuleRunner {
  const { metadata, now, log } = options;
  const active = new Map<string, { controller: AbortController; done: Promise<boolean> }>();

  async function createRun(rule: Rule, trigger: RunRecord['trigger'], actor: string, images?: Array<{ repository: string; reference: string }>): Promise<RunRecord | undefined> {
    const id = randomUUID();
    await metadata.transaction(async (tx) => {
      await tx.replicationRuns.create({ id, ruleId: rule.id, trigger, actor, createdAt: now() });
      if (images) await tx.replicationRuns.addItems(id, images, now());
    });
    return metadata.replicationRuns.get(id);
  }

  /** The rule's next run to execute: one left unfinished, else one from its queue or its schedule. */
  async function nextRun(ruleId: string): Promise<{ rule: Rule; run: RunRecord } | undefined> {
    const record = await metadata.replicationRules.get(ruleId);
    const unfinished = await metadata.replicationRuns.unfinished(ruleId);
    if (!record) {
      for (const run of unfinished) await metadata.replicationRuns.finish(run.id, 'failed', 'the rule was deleted', now());
      return undefined;
    }
    const rule = ruleOf(record);
    if (unfinished[0]) return { rule, run: unfinished[0] };
    const queued = await metadata.replicationRules.queued(ruleId, 1_000);
    if (queued.length > 0) {
      // Images pushed many times since the last run are copied once, as they are now.
      const images = [...new Map(queued.map((q) => [`${q.repository}:${q.reference}`, { repository: q.repository, reference: q.reference }])).values()];
      const run = rule.enabled ? await createRun(rule, queued[0]!.trigger, queued[0]!.actor, images) : undefined;
      await metadata.replicationRules.dequeue(queued.map((q) => q.id));
      if (run) return { rule, run };
    }
    if (rule.enabled && rule.intervalSeconds !== null && rule.nextRunAt !== null && rule.nextRunAt <= now()) {
      if (await metadata.replicationRules.claimSchedule(ruleId, rule.nextRunAt, now() + rule.intervalSeconds * 1000)) {
        const run = await createRun(rule, 'schedule', 'wharf');
        if (run) return { rule, run };
      }
    }
    return undefined;
  }

  function run(ruleId: string): Promise<boolean> {
    const running = active.get(ruleId);
    if (running) return running.done;
    const controller = new AbortController();
    const done = runExclusive(
      metadata.leases,
      ruleLease(ruleId),
      { holder: options.holder, ttlMs: options.leaseTtlMs, now, onRenewError: (error) => log.warn({ err: error, rule: ruleId }, 'renewing a replication lease failed') },
      async (leaseSignal) => {
        const signal = AbortSignal.any([leaseSignal, controller.signal]);
        for (let next = await nextRun(ruleId); next && !signal.aborted; next = signal.aborted ? undefined : await nextRun(ruleId)) {
          await executeRun(options, next.rule, next.run, signal);
        }
      },
    )
      .then((result) => result.ran)
      .catch((error: unknown) => {
        log.error({ err: error, rule: ruleId }, 'replication runner failed');
        return true;
      })
      .finally(() => active.delete(ruleId));
    active.set(ruleId, { controller, done });
    return done;
  }

  return {
    run,
    isRunning: (ruleId) => active.has(ruleId),
    async idle() {
      while (active.size > 0) await Promise.all([...active.values()].map((a) => a.done));
    },
    async abortAll(reason, graceMs) {
      for (const { controller } of active.values()) controller.abort(reason);
      await Promise.race([Promise.all([...active.values()].map((a) => a.done)), sleep(graceMs, undefined, { ref: false })]);
    },
  };
}

/**
 * Runs replication rules on every instance that serves: each poll looks for rules with an
 * unfinished run, images queued by triggers, or a schedule due, and runs them here unless
 * another instance holds them.
 */
export function startReplicationScheduler(options: SchedulerOptions): ReplicationScheduler {
  const { metadata, now, log } = options;
  const runner = createRuleRunner(options);
  let stopped = false;
  let ticking: Promise<void> | undefined;
  let again = false;
  let purgedAt = 0;

  async function tick(): Promise<void> {
    const at = now();
    const ids = new Set([
      ...(await metadata.replicationRuns.rulesWithUnfinished()),
      ...(await metadata.replicationRules.withQueue()),
      ...(await metadata.replicationRules.due(at)),
    ]);
    for (const id of ids) if (!runner.isRunning(id) && !stopped) void runner.run(id);
    if (at - purgedAt >= PURGE_EVERY_MS) {
      purgedAt = at;
      const purged = await metadata.replicationRuns.purge(at - options.runRetentionMs);
      if (purged > 0) log.info({ runs: purged }, 'old replication runs purged');
    }
  }

  function wake(): void {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = (async () => {
      do {
        again = false;
        try {
          await tick();
        } catch (error) {
          log.warn({ err: error }, 'looking for replication work failed');
        }
      } while (again && !stopped);
    })().finally(() => {
      ticking = undefined;
    });
  }

  const timer = setInterval(wake, options.pollIntervalMs);
  timer.unref();
  wake();

  return {
    wake,
    async idle() {
      await ticking;
      await runner.idle();
    },
    async stop(graceMs = 10_000) {
      stopped = true;
      clearInterval(timer);
      await ticking;
      await runner.abortAll(new Error('wharf is stopping'), graceMs);
    },
  };
}
