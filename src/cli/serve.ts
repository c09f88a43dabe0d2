import cluster from 'node:cluster';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { buildApp, type App } from '../app.js';
import { ConfigError, loadConfig, maskSecrets, type ConfigOverrides, type WharfConfig } from '../config/index.js';
import { createLogger } from '../lib/logger.js';
import { shareWithPrimary } from '../lib/metrics.js';
import { runPrimary } from './cluster.js';
import { exitCodes } from './config-commands.js';
import { isAdminConflict, reachHint, reportAdminConflict, warnAtStart, type DatabaseFlagsUsed } from './start-notices.js';

interface ServeFlags {
  config?: string;
  port?: string;
  address?: string;
  data?: string;
}

/** After close() resolved, how long lingering handles may keep the process before it exits anyway. */
const EXIT_LINGER_MS = 2000;
/** How often idle keep-alive sockets are closed while draining (a finished request leaves one). */
const REAP_IDLE_MS = 200;

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the registry (no config: port 5000, filesystem storage and SQLite in ./data)')
    .option('-c, --config <file>', 'YAML config file (default: $WHARF_CONFIG, else built-in defaults)')
    .option('-p, --port <port>', 'port to listen on (http.port)')
    .option('-a, --address <address>', 'address to bind (http.address)')
    .option('-d, --data <dir>', 'data directory for the embedded defaults (dataDirectory)')
    .action(async (flags: ServeFlags) => {
      const code = await serve(flags);
      process.exitCode = code;
      // A worker's IPC channel would keep it alive: it is done, so it leaves now.
      if (cluster.isWorker) process.exit(code);
      // Everything is closed; a forgotten timer or socket must not keep a stopped server alive.
      setTimeout(() => process.exit(code), EXIT_LINGER_MS).unref();
    });
}

async function serve(flags: ServeFlags): Promise<number> {
  const overrides: ConfigOverrides = {};
  if (flags.data !== undefined) overrides.dataDirectory = flags.data;
  if (flags.port !== undefined || flags.address !== undefined) {
    overrides.http = {};
    if (flags.port !== undefined) (overrides.http as Record<string, unknown>).port = flags.port;
    if (flags.address !== undefined) overrides.http.address = flags.address;
  }
  let config: WharfConfig;
  try {
    config = loadConfig({
      file: flags.config,
      overrides,
      // Workers load the same config again: the primary already printed its warnings.
      onWarning: (message) => cluster.isWorker || process.stderr.write(`warning: ${message}\n`),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return exitCodes.configError;
    }
    throw error;
  }
  const base = createLogger(config.log.level);
  if (cluster.isPrimary) base.debug({ config: maskSecrets(config) }, 'effective configuration');
  if (cluster.isPrimary && config.http.workers > 1) {
    const problem = clusterProblem(config);
    if (problem) {
      process.stderr.write(`${flags.config ?? 'config'}: http.workers: ${problem}\n`);
      return exitCodes.configError;
    }
    return runPrimary(config, base, flags);
  }
  const logger = cluster.isWorker ? base.child({ worker: cluster.worker?.id }) : base;
  return runServer(config, logger, flags);
}

/** Worker processes share nothing but the database and the store: both must be shared. */
function clusterProblem(config: WharfConfig): string | undefined {
  if (config.storage.driver === 'memory') return `${config.http.workers} workers cannot share memory storage; use filesystem, s3 or oss`;
  if (config.database.driver === 'sqlite' && config.database.sqlite.path === ':memory:') {
    return `${config.http.workers} workers cannot share an in-memory SQLite database; use a file or PostgreSQL`;
  }
  return undefined;
}

/** One serving process: build, listen, wait for a signal, drain, close. */
async function runServer(config: WharfConfig, logger: Logger, flags: DatabaseFlagsUsed): Promise<number> {
  let app: App;
  try {
    app = await buildApp(config, logger);
  } catch (error) {
    if (isAdminConflict(error)) return reportAdminConflict(error, logger, flags);
    logger.fatal({ err: error }, 'startup failed');
    process.stderr.write(`wharf: cannot start: ${(error as Error).message}\n`);
    return exitCodes.runtimeFailure;
  }
  shareWithPrimary(app.metrics);
  let port: number;
  try {
    port = await app.listen();
  } catch (error) {
    logger.fatal({ err: error }, 'cannot listen');
    process.stderr.write(`wharf: cannot listen on ${config.http.address}:${config.http.port}: ${(error as Error).message}\n`);
    await app.close().catch(() => undefined);
    return exitCodes.runtimeFailure;
  }
  logger.info(
    {
      address: config.http.address,
      port,
      tls: config.http.tls !== undefined,
      storage: app.storage.name,
      database: config.database.driver,
      hint: reachHint(config),
    },
    'wharf listening',
  );
  // Listen for signals first: a SIGTERM during the checks below must drain, not kill.
  const stopRequested = shutdownRequested();
  // A cluster's primary has warned already.
  if (!cluster.isWorker) await warnAtStart(config, logger, port);

  const signal = await stopRequested;
  return drain(app, logger, config.http.shutdownGraceMs, signal);
}

/**
 * Resolves with the first shutdown request: SIGTERM or SIGINT, or, in a cluster worker, SIGTERM
 * from the primary or the primary going away (a terminal's Ctrl-C reaches every process of the
 * group; the primary coordinates, so workers ignore SIGINT).
 */
function shutdownRequested(): Promise<string> {
  if (cluster.isWorker) process.on('SIGINT', () => undefined);
  return new Promise((resolveSignal) => {
    const events = cluster.isWorker ? (['SIGTERM', 'disconnect'] as const) : (['SIGTERM', 'SIGINT'] as const);
    const handlers = events.map((event) => {
      const handler = () => {
        events.forEach((other, index) => process.off(other, handlers[index]!));
        resolveSignal(event === 'disconnect' ? 'primary gone' : event);
      };
      process.on(event, handler);
      return handler;
    });
  });
}

/**
 * Graceful stop: no new connections, readiness fails, idle keep-alive sockets close; in-flight
 * uploads and downloads get `graceMs` to finish. Past the grace (or on a second signal) the
 * remaining connections are cut: an interrupted upload stays a resumable session whose bytes the
 * store holds, never a published blob, because a blob is published only after its digest was
 * verified. Then the database and the store close.
 */
async function drain(app: App, logger: Logger, graceMs: number, signal: string): Promise<number> {
  const server = app.http.server;
  logger.info({ signal, graceMs }, 'shutting down');
  const cut = (reason: string) => {
    logger.warn({ reason, graceMs }, 'closing remaining connections');
    server.closeAllConnections();
  };
  const grace = setTimeout(() => cut('grace period over'), graceMs);
  const reaper = setInterval(() => server.closeIdleConnections(), REAP_IDLE_MS);
  const force = () => cut('second signal');
  process.once('SIGTERM', force);
  if (!cluster.isWorker) process.once('SIGINT', force);
  try {
    await app.close();
  } catch (error) {
    logger.error({ err: error }, 'error while closing');
    return exitCodes.runtimeFailure;
  } finally {
    clearTimeout(grace);
    clearInterval(reaper);
    process.off('SIGTERM', force);
    process.off('SIGINT', force);
  }
  logger.info('stopped');
  return exitCodes.ok;
}
