import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { WharfConfig } from './config/index.js';
import { BackendError, RegistryError, StorageNotFoundError } from './errors.js';
import { apiScope } from './http/api/openapi.js';
import { looksLikeDigest } from './oci/digest.js';
import { projectOf } from './oci/names.js';
import { mirrorStatsFrom, openReadAccess, registryReadRoutes } from './http/api/registry-read-routes.js';
import type { AuditLog } from './auth/audit-log.js';
import { bootstrapAdmin, type BootstrapResult } from './auth/bootstrap.js';
import { createAuth, type AuthServices } from './auth/create-auth.js';
import { startAuthMaintenance } from './auth/maintenance.js';
import { authSurfaces } from './http/auth/surfaces.js';
import { consolePlugin } from './http/console.js';
import { gcMetrics } from './gc/metrics.js';
import { projectPolicies } from './gc/policies.js';
import { projectQuotas, quotaGuard } from './gc/quotas.js';
import type { GcReport } from './gc/report.js';
import type { GcLog, GcRunner } from './gc/runner.js';
import { workerGcRunner } from './gc/worker-runner.js';
import { gcRunsInWorker, gcServices } from './gc-services.js';
import { scheduleGc, type GcSchedule } from './gc/schedule.js';
import { gcFinishedEvent, publishAfterCommit, quotaWarningEvent } from './gc/events.js';
import { healthPlugin } from './http/health.js';
import { acceptInBatches } from './http/accept-batch.js';
import { metricsHooks, metricsPlugin } from './http/metrics.js';
import { createHttpServer } from './http/server.js';
import { fileModes, loosePaths, type LoosePath } from './lib/file-modes.js';
import { loadLibc } from './lib/libc.js';
import { createEvents, type Events } from './events/create-events.js';
import { eventPublisher } from './events/publisher.js';
import { createMetrics, observeRejections, type StoredCounts, type WharfMetrics } from './lib/metrics.js';
import { idleMemoryReclaimer } from './lib/idle-memory.js';
import { startBackgroundWriter, type BackgroundWriter } from './metadata/background-writer.js';
import { openDatabase, shrinkSqliteCache, type Db } from './metadata/database.js';
import { fastReads, type FastReads } from './metadata/fast-reads.js';
import type { UsageChange } from './metadata/project-usage.js';
import { metadataStore, type MetadataStore } from './metadata/store.js';
import { databaseError } from './metadata/unavailable.js';
import { mapRejections } from './lib/rejections.js';
import { createMirror } from './mirror/create-mirror.js';
import { metricsObserver } from './mirror/metrics-observer.js';
import { createBrowser } from './registry/browse.js';
import type { ContentLifecycle } from './registry/content.js';
import { createRegistry } from './registry/create-registry.js';
import type { Registry } from './registry/registry.js';
import { purgeIntervalMs, startUploadPurge, type UploadPurgeTask } from './registry/upload-purge.js';
import { checkedDriver } from './storage/checked-driver.js';
import type { StorageDriver } from './storage/driver.js';
import { createStorage, databaseOptions, filesystemRoot } from './stores.js';
import { createReplication } from './replication/create-replication.js';
import { placementJournal } from './registry/placement-journal.js';
import { withReplicationTriggers } from './replication/triggers.js';
import { createWorkflow, type Workflow } from './workflow/create-workflow.js';
import { promotionRanks } from './auth/policy.js';

export interface App {
  http: FastifyInstance;
  registry: Registry;
  metadata: MetadataStore;
  storage: StorageDriver;
  logger: Logger;
  /** This process's Prometheus metrics (its own registry). */
  metrics: WharfMetrics;
  /** The periodic purge of abandoned uploads (`runNow()` for tests and operators). */
  uploadPurge: UploadPurgeTask;
  /** The event publisher, webhook endpoints and this instance's delivery loop. */
  events: Events;
  /** How content is published and deleted (the state machine GC and writers share). */
  content: ContentLifecycle;
  /** Garbage collection and retention (docs/gc.md); `gcSchedule` is its timer. */
  gc: GcRunner;
  gcSchedule: GcSchedule;
  workflow: Workflow;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes everything. */
  close(): Promise<void>;
}

/** The composition root: the only place that picks concrete drivers and stores. */
export async function buildApp(config: WharfConfig, logger: Logger): Promise<App> {
  const dataDirectory = resolve(config.dataDirectory);
  let db: Db | undefined;
  let background: BackgroundWriter | undefined;
  let reads: FastReads | undefined;
  const metrics = createMetrics({ counts: () => storedCounts(db!) });
  const storage = checkedDriver(await createStorage(config), {
    onError: (driver, operation, error) => {
      metrics.storageErrors.inc({ driver, operation });
      logger.error({ driver, operation, err: error }, 'storage operation failed');
    },
    onWrite: (driver, operation, bytes) => {
      metrics.storageWrites.inc({ driver, operation });
      if (bytes > 0) metrics.storageWrittenBytes.inc({ driver }, bytes);
    },
  });
  /** A start that fails after opening the stores closes them (a background writer's thread would keep the process alive). */
  const failStart = async (error: unknown): Promise<never> => {
    await background?.close();
    reads?.close();
    await db?.destroy();
    await storage.close();
    throw error;
  };
  try {
    await storage.check();
    const options = databaseOptions(config, (error) => {
      metrics.databaseErrors.inc({ operation: 'connection' });
      logger.warn({ err: error }, 'database connection lost');
    });
    db = await openDatabase(options.driver === 'sqlite' ? { ...options, observe: metrics.database.observe, observeSync: metrics.database.walSynced } : options);
    // Batched writes (pull counts, audit) and SQLite's WAL checkpoints, off the event loop.
    background = await startBackgroundWriter(db, {
      ...(options.driver === 'sqlite' ? { sqlitePath: options.path, busyTimeoutMs: options.busyTimeoutMs } : {}),
      onCheckpoint: (result) => metrics.database.checkpointed(result.seconds),
      onError: (error) => logger.error({ err: error }, 'database background writer failed; writing inline, a new one is tried in 30 s'),
    });
    // The hot path's reads: compiled once, on a connection of their own with SQLite.
    reads = fastReads(db, options.driver === 'sqlite' ? { sqlitePath: options.path, busyTimeoutMs: options.busyTimeoutMs, observe: metrics.database.observe } : {});
  } catch (error) {
    return failStart(error);
  }
  // A database that is down or locked answers BackendError (503 UNAVAILABLE), never a 500.
  const metadata = observeRejections(
    mapRejections(metadataStore(db, background, reads), (_operation, error) => databaseError(error)),
    (operation) => metrics.databaseErrors.inc({ operation }),
    // A domain or storage error thrown inside a transaction is not the database's failure.
    (error) => !(error instanceof RegistryError || error instanceof BackendError || error instanceof StorageNotFoundError),
  );
  // Manifest PUTs on the filesystem store wait for the database's flush only (registry/placement-journal.ts);
  // what a crash may have lost of the last ones is put back before anything is served.
  const syncPlaced = storage.syncPlaced?.bind(storage);
  const placements = syncPlaced && placementJournal({
    metadata,
    storage,
    syncPlaced,
    now: Date.now,
    onError: (error) => logger.error({ err: error }, 'flushing placed manifests failed; retried in 1 s'),
    onInconsistency: (message, fields) => logger.error(fields, message),
  });
  const replayed = await placements?.replay().catch(failStart);
  if (replayed) logger.warn({ manifests: replayed }, 'rewrote the manifests an unclean stop may have lost, from the placement journal');
  let draining = false;
  // Users, projects, tokens and the audit log (docs/security.md).
  const auth = await createAuth({
    config: config.auth,
    metadata,
    now: Date.now,
    onError: (error) => logger.error({ err: error }, 'audit write failed'),
    mirror: { projects: new Set(config.mirror.upstreams.map((u) => u.name)), hasDefault: config.mirror.upstreams.some((u) => u.default) },
  });
  const bootstrapped = await bootstrapAdmin({ accounts: auth.accounts, users: metadata.users }, process.env).catch(failStart);
  if (bootstrapped?.created) logger.info({ user: bootstrapped.user }, 'first administrator created from WHARF_ADMIN_USER');
  // Events and webhooks (docs/webhooks.md): the outbox is written in the registry's transactions.
  const events = await createEvents({ metadata, settings: { ...config.webhooks, publicUrl: config.http.publicUrl }, now: Date.now, log: logger });
  // Promotion, stage rules, immutable tags, tag history, lineage (docs/workflow.md).
  // Pushes and promotions also queue images for push rules (docs/replication.md).
  const workflow = createWorkflow({
    metadata,
    publisher: events.publisher,
    now: Date.now,
    roleRanks: promotionRanks,
    extendHooks: (hooks) => withReplicationTriggers(hooks, { now: Date.now, onQueued: () => replication.wake() }),
  });
  const observeGc = gcMetrics(metrics.registry);
  const announce = publishAfterCommit(events.publisher, metadata, (error) => logger.error({ err: error }, 'event not written to the outbox'));
  const gcLog = logger.child({ component: 'gc' });
  const onGcFinished = (report: GcReport) => {
    recordGc(auth.audit, report);
    observeGc(report);
    announce(gcFinishedEvent(report));
  };
  const lifecycle = gcServices(config, { metadata, storage, log: gcLog, onFinished: onGcFinished });
  const { content } = lifecycle;
  // With SQLite, each run has a worker thread of its own, off the pulls' event loop (gc-services.ts).
  const gc = gcRunsInWorker(config)
    ? workerGcRunner(lifecycle.gc, { script: new URL('./gc-worker.js', import.meta.url), config, log: gcLog, onFinished: onGcFinished })
    : lifecycle.gc;
  // Started once everything is built (below); the API only asks it for the next run.
  let gcSchedule: GcSchedule | undefined;
  const authMaintenance = startAuthMaintenance({ audit: auth.audit, sessions: metadata.sessions, now: Date.now, onError: (error) => logger.warn({ err: error }, 'audit retention failed') });
  const registry = createRegistry({
    metadata,
    storage,
    content,
    usage: quotaGuard({
      onWarning: (change) => {
        recordQuotaWarning(auth.audit, change);
        if (change.quotaBytes !== null) announce(quotaWarningEvent({ ...change, quotaBytes: change.quotaBytes }));
      },
    }),
    now: Date.now,
    maxPageSize: 10_000,
    manifestMaxBytes: config.http.manifestMaxBytes,
    redirectTtlSeconds: 300,
    onInconsistency: (message, fields) => logger.error(fields, message),
    hooks: workflow.hooks,
    ...(placements ? { placements } : {}),
  });
  // The pull-through cache decorates the registry when upstreams are configured (docs/mirror.md).
  const mirror = config.mirror.upstreams.length === 0 ? undefined : await createMirror({
    inner: registry,
    metadata,
    storage,
    content,
    upstreams: config.mirror.upstreams,
    cacheMaxBytes: config.mirror.cacheMaxBytes ?? 0,
    spoolDirectory: join(dataDirectory, 'mirror-spool', String(process.pid)),
    fileModes: fileModes(config.dataPermissions),
    manifestMaxBytes: config.http.manifestMaxBytes,
    log: logger.child({ component: 'mirror' }),
    observer: metricsObserver(metrics.registry),
  });
  // Pull and push rules (docs/replication.md): one runner per rule across instances.
  const replication = await createReplication({
    metadata,
    keys: metadata.webhooks,
    storage,
    registry,
    mirror: mirror && { sync: mirror.sync, upstreams: config.mirror.upstreams.map((u) => u.name) },
    settings: config.replication,
    manifestMaxBytes: config.http.manifestMaxBytes,
    now: Date.now,
    log: logger.child({ component: 'replication' }),
    audit: (actor, action, rule, detail) => auth.audit.record({ actor: actor.name, source: actor.source, action, reference: rule, result: 'success', ...(detail ? { detail } : {}) }),
  });
  const authHttp = authSurfaces(auth, {
    publicUrl: config.http.publicUrl,
    delivery: { webhooks: events.webhooks, workflow },
    replication: replication.service,
    lifecycle: {
      gc,
      schedule: { nextRun: () => gcSchedule?.nextRun() ?? null, stop: () => gcSchedule?.stop() },
      settings: { schedule: config.gc.schedule, graceSeconds: config.gc.graceSeconds, untaggedGraceHours: config.gc.untaggedGraceHours },
      policies: projectPolicies(metadata.policies, Date.now),
      quotas: projectQuotas(metadata.policies),
    },
  });
  const http = await createHttpServer({
    // Manifest GETs are counted by the access layer's record() (auth.audit.recordPull).
    registry: mirror?.registry ?? registry,
    logger,
    access: authHttp.v2,
    ...(config.http.publicUrl ? { publicUrl: config.http.publicUrl } : {}),
    manifestMaxBytes: config.http.manifestMaxBytes,
    redirectBlobs: storageRedirects(config),
    ...(mirror ? { resolveNamespace: mirror.resolveNamespace } : {}),
    onPull: ({ repository, reference, manifest }, context) =>
      events.publisher.publishPull({
        type: 'pull',
        project: projectOf(repository),
        actor: context.actor,
        ...(context.request ? { request: context.request } : {}),
        data: { repository, digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size, tag: looksLikeDigest(reference) ? null : reference },
      }),
    ...(config.http.tls ? { tls: config.http.tls } : {}),
    requestTimeoutMs: config.http.requestTimeoutMs,
    keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
    headersTimeoutMs: config.http.headersTimeoutMs,
    trustProxy: config.http.trustProxy,
    accessLog: config.log.accessLog,
    hooks: [metricsHooks(metrics)],
    plugins: [
      healthPlugin({ checks: { storage: () => storage.check(), database: () => metadata.ping() }, draining: () => draining }),
      ...(config.metrics.enabled ? [metricsPlugin(metrics, config.metrics.path)] : []),
      ...authHttp.plugins,
      // /api/v1, with its OpenAPI document and reference generated from the routes' schemas.
      apiScope([
        authHttp.api,
        // The console's read endpoints use the undecorated registry: browsing is not pulling.
        async (app) => void (await app.register(registryReadRoutes, {
          browser: createBrowser({ registry, browse: metadata.browse, manifests: metadata.manifests, repositories: metadata.repositories, settlePulls: () => auth.audit.settle() }),
          registry,
          access: config.auth.mode === 'none' ? openReadAccess : authHttp.readAccess,
          mirrorStats: mirrorStatsFrom(metrics.registry),
        })),
      ]),
      async (app) => void (await app.register(consolePlugin, { directory: fileURLToPath(new URL('../../web/dist', import.meta.url)) })),
    ],
  });

  replication.startScheduler();
  const purgeAfterMs = config.storage.uploadPurgeAfterHours * 3_600_000;
  const uploadPurge = startUploadPurge(
    { metadata, storage, content, now: Date.now, maxAgeMs: purgeAfterMs, log: logger },
    { intervalMs: purgeIntervalMs(purgeAfterMs), firstRunMs: 60_000 },
  );
  gcSchedule = scheduleGc(config.gc.schedule, gc, logger.child({ component: 'gc' }));

  const mib = (bytes: number) => Math.round(bytes / 1048576);
  const idleMemory = idleMemoryReclaimer({
    // All of it comes back on use: the worker thread at the next write, the caches as queries run.
    release: async () => {
      const released: string[] = [];
      if (await background?.park()) released.push('database background writer');
      if (await shrinkSqliteCache(db!)) {
        reads?.shrinkCache();
        released.push('SQLite page caches');
      }
      return released;
    },
    onCollect: ({ rssBefore, rssAfterCollections, rssAfter, releasedBuffers, released, releaseFailed, durationMs, trimSkipped }) =>
      logger.debug(
        {
          rssBeforeMiB: mib(rssBefore),
          rssAfterCollectionsMiB: mib(rssAfterCollections),
          rssAfterMiB: mib(rssAfter),
          releasedBufferMiB: mib(releasedBuffers),
          released,
          durationMs: Math.round(durationMs),
          ...(trimSkipped ? { trimSkipped } : {}),
          ...(releaseFailed ? { releaseFailed } : {}),
        },
        'idle: memory collected',
      ),
  });

  let closing: Promise<void> | undefined;
  return {
    http,
    registry,
    metadata,
    storage,
    logger,
    metrics,
    uploadPurge,
    events,
    content,
    gc,
    gcSchedule,
    workflow,
    async listen() {
      // Loaded before listening (acceptInBatches says why); the idle-memory trim loads it anyway.
      const libc = await loadLibc();
      await http.listen({ host: config.http.address, port: config.http.port });
      const batching = acceptInBatches(http.server, {
        batch: config.http.acceptBatch,
        libc,
        onAccepted: (batched) => metrics.connectionsAccepted.inc({ by: batched ? 'batch' : 'loop' }),
      });
      if ('unavailable' in batching && config.http.acceptBatch > 1) {
        logger.info({ reason: batching.unavailable }, 'connections are accepted one per event-loop turn');
      }
      const address = http.server.address();
      return typeof address === 'object' && address ? address.port : config.http.port;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        await http.close();
        idleMemory.stop();
        authMaintenance.stop();
        await auth.audit.settle();
        await replication.close();
        await mirror?.close();
        await uploadPurge.stop();
        gcSchedule?.stop();
        await gc.stop();
        await events.close();
        if (placements) await placements.close();
        await background?.close();
        reads?.close();
        metrics.stop();
        await db!.destroy();
        await storage.close();
      })();
      return closing;
    },
  };
}

/** The database and account services for CLI commands (`wharf user …`), from the same config as serve. */
export async function openForCli(config: WharfConfig): Promise<{ auth: AuthServices; metadata: MetadataStore; close(): Promise<void> }> {
  const db = await openDatabase(databaseOptions(config));
  try {
    const metadata = metadataStore(db);
    const auth = await createAuth({ config: config.auth, metadata, now: Date.now, onError: (error) => process.stderr.write(`audit write failed: ${String(error)}\n`) });
    return {
      auth,
      metadata,
      async close() {
        await auth.audit.settle();
        await db.destroy();
      },
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/**
 * Opens the metadata database once, running its migrations, and applies the admin bootstrap
 * (cluster primary: before any worker starts, so a conflict is reported once).
 */
export async function prepareDatabase(config: WharfConfig, env: NodeJS.ProcessEnv): Promise<BootstrapResult | undefined> {
  const { auth, metadata, close } = await openForCli(config);
  try {
    return await bootstrapAdmin({ accounts: auth.accounts, users: metadata.users }, env);
  } finally {
    await close();
  }
}

/** Existing data paths (data directory, blob directory, SQLite file) open to more than `dataPermissions` allows. */
export function checkDataPermissions(config: WharfConfig): Promise<LoosePath[]> {
  const database = databaseOptions(config);
  const paths = [resolve(config.dataDirectory)];
  if (config.storage.driver === 'filesystem') paths.push(filesystemRoot(config));
  if (database.driver === 'sqlite' && database.path !== ':memory:') paths.push(database.path);
  return loosePaths(paths, fileModes(config.dataPermissions));
}

/**
 * `wharf gc` beside running servers: the same database and store, the same lease and delete path,
 * so it is as safe as a server's own run (docs/gc.md).
 */
export async function openGcForCli(config: WharfConfig, log: GcLog): Promise<{ gc: GcRunner; close(): Promise<void> }> {
  const storage = checkedDriver(await createStorage(config), {
    onError: (driver, operation, error) => log.error({ driver, operation, err: error }, 'storage operation failed'),
  });
  const cli = await openForCli(config).catch(async (error: unknown) => {
    await storage.close();
    throw error;
  });
  // The servers' delivery loops send the `gc.finished` event this run writes to the outbox.
  const publisher = eventPublisher({ metadata: cli.metadata, now: Date.now, onError: (error) => log.error({ err: error }, 'event not written to the outbox') });
  const announce = publishAfterCommit(publisher, cli.metadata, (error) => log.error({ err: error }, 'event not written to the outbox'));
  const { gc } = gcServices(config, {
    metadata: cli.metadata,
    storage,
    log,
    onFinished: (report) => {
      recordGc(cli.auth.audit, report);
      announce(gcFinishedEvent(report));
    },
  });
  return {
    gc,
    async close() {
      await gc.idle();
      await cli.close();
      await storage.close();
    },
  };
}

/** A project reached the warning share of its quota, in the audit log (the event goes beside it). */
function recordQuotaWarning(audit: AuditLog, change: UsageChange): void {
  audit.record({
    actor: 'wharf',
    action: 'quota.warning',
    project: change.project,
    result: 'success',
    detail: { usedBytes: change.usedBytes, quotaBytes: change.quotaBytes, percent: change.quotaBytes ? Math.floor((change.usedBytes * 100) / change.quotaBytes) : null },
  });
}

/** A finished GC run in the audit log (the `gc.finished` event goes beside it). */
function recordGc(audit: AuditLog, report: GcReport): void {
  const { items: _items, ...summary } = report;
  audit.record({
    actor: report.actor,
    action: report.dryRun ? 'gc.dry-run' : 'gc',
    ...(report.project ? { project: report.project } : {}),
    result: report.status === 'finished' ? 'success' : 'failure',
    detail: summary,
  });
}

/** The row counts behind the blob, manifest and upload gauges (one COUNT each). */
async function storedCounts(db: Db): Promise<StoredCounts> {
  const count = async (table: 'blobs' | 'manifests' | 'uploads') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
  const [blobs, manifests, uploadsOpen] = await Promise.all([count('blobs'), count('manifests'), count('uploads')]);
  return { blobs, manifests, uploadsOpen };
}

/** Blob GETs answer 307 to the store when the s3/oss section asks for it. */
function storageRedirects(config: WharfConfig): boolean {
  if (config.storage.driver === 's3') return config.storage.s3?.redirect ?? false;
  if (config.storage.driver === 'oss') return config.storage.oss?.redirect ?? false;
  return false;
}

export { AdminBootstrapConflict } from './auth/bootstrap.js';
