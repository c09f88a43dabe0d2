import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { prepareDatabase } from '../app.js';
import type { WharfConfig } from '../config/index.js';
import { serveClusterMetrics } from '../lib/metrics.js';
import { exitCodes } from './config-commands.js';
import { isAdminConflict, reportAdminConflict, warnAtStart, type DatabaseFlagsUsed } from './start-notices.js';

/** Restart delays of a worker that keeps crashing: 0.5 s, 1 s, 2 s … up to 30 s. */
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that served this long before dying starts its slot's backoff afresh. */
const STABLE_AFTER_MS = 30_000;
/** After the workers' own grace period, how long the primary waits before SIGKILL. */
const KILL_MARGIN_MS = 5_000;

interface Slot {
  index: number;
  worker?: Worker;
  startedAt: number;
  crashes: number;
  restartTimer?: NodeJS.Timeout;
}

/**
 * The cluster primary: runs the migrations and the admin bootstrap once, forks `http.workers` processes that share the
 * listening port (each a full server: nothing is shared but the database and the store), restarts
 * a worker that dies with a backoff, and on SIGTERM/SIGINT forwards SIGTERM so every worker
 * drains. A worker that dies before it ever listened means the server cannot start: the
 * primary stops the others and fails.
 */
export async function runPrimary(config: WharfConfig, logger: Logger, flags: DatabaseFlagsUsed = {}): Promise<number> {
  const count = config.http.workers;
  const log = logger.child({ role: 'primary' });
  try {
    // Before any fork, so N workers never race to migrate one SQLite file.
    const bootstrapped = await prepareDatabase(config, process.env);
    if (bootstrapped?.created) log.info({ user: bootstrapped.user }, 'first administrator created from WHARF_ADMIN_USER');
  } catch (error) {
    if (isAdminConflict(error)) return reportAdminConflict(error, log, flags);
    log.fatal({ err: error }, 'startup failed');
    process.stderr.write(`wharf: cannot start: ${(error as Error).message}\n`);
    return exitCodes.runtimeFailure;
  }
  serveClusterMetrics();
  await warnAtStart(config, log, config.http.port);

  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, startedAt: 0, crashes: 0 }));
  const listened = new Set<number>();
  let stopping = false;
  let failure: number | undefined;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolveFinished) => (finish = resolveFinished));

  const fork = (slot: Slot) => {
    slot.startedAt = Date.now();
    const worker = cluster.fork();
    slot.worker = worker;
    worker.once('listening', () => {
      listened.add(slot.index);
      if (listened.size === count) log.info({ workers: count, port: config.http.port }, 'all workers listening');
    });
    worker.once('exit', (code, signal) => onExit(slot, worker, code, signal));
  };

  const live = () => slots.filter((slot) => slot.worker && !slot.worker.isDead());

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker === worker) slot.worker = undefined;
    const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal };
    if (stopping) {
      log.info(fields, 'worker stopped');
      if ((code !== 0 && code !== null) || signal === 'SIGKILL') failure ??= exitCodes.runtimeFailure;
      if (live().length === 0) finish(failure ?? exitCodes.ok);
      return;
    }
    if (!listened.has(slot.index)) {
      log.fatal(fields, 'worker failed to start');
      failure = typeof code === 'number' && code !== 0 ? code : exitCodes.runtimeFailure;
      stop('worker failed to start');
      return;
    }
    slot.crashes = Date.now() - slot.startedAt > STABLE_AFTER_MS ? 0 : slot.crashes + 1;
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.max(0, slot.crashes - 1));
    log.error({ ...fields, delayMs }, 'worker died, restarting');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!stopping) fork(slot);
    }, delayMs);
  };

  let killTimer: NodeJS.Timeout | undefined;
  const stop = (reason: string) => {
    if (stopping) {
      // A second signal: workers treat a second SIGTERM as "cut the connections now".
      log.warn({ reason }, 'stopping workers now');
      for (const slot of live()) slot.worker!.process.kill('SIGTERM');
      return;
    }
    stopping = true;
    log.info({ reason, graceMs: config.http.shutdownGraceMs }, 'shutting down');
    for (const slot of slots) clearTimeout(slot.restartTimer);
    const running = live();
    if (running.length === 0) {
      finish(failure ?? exitCodes.ok);
      return;
    }
    for (const slot of running) slot.worker!.process.kill('SIGTERM');
    killTimer = setTimeout(() => {
      for (const slot of live()) {
        log.error({ worker: slot.worker!.id, workerPid: slot.worker!.process.pid }, 'worker did not stop in time, killing it');
        slot.worker!.process.kill('SIGKILL');
      }
    }, config.http.shutdownGraceMs + KILL_MARGIN_MS);
  };
  const onSignal = (signal: NodeJS.Signals) => stop(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  log.info({ workers: count }, 'starting workers');
  for (const slot of slots) fork(slot);
  const code = await finished;
  clearTimeout(killTimer);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  log.info({ code }, 'stopped');
  return code;
}
