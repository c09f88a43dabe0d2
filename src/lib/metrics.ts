import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { databaseCallMetrics, eventLoopDelayMetrics } from './loop-metrics.js';
import { mapRejections } from './rejections.js';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Row counts the metrics read from the metadata database (a cheap COUNT each). */
export interface StoredCounts {
  blobs: number;
  manifests: number;
  uploadsOpen: number;
}

export interface MetricsOptions {
  /** Reads the stored counts; called at most once per `countsTtlMs` (scrapes share the result). */
  counts?: () => Promise<StoredCounts>;
  countsTtlMs?: number;
  /** Process metrics (CPU, memory, event loop, GC). */
  processMetrics?: boolean;
}

/**
 * One process's metrics, in its own prom-client Registry: several apps can live in one process
 * (tests) without sharing the global default registry.
 */
export interface WharfMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly duration: Histogram<'route' | 'method'>;
  readonly bytesIn: Counter<'route'>;
  readonly bytesOut: Counter<'route'>;
  readonly inFlight: Gauge;
  /** Requests the client hung up on before their response was complete: not failures of ours. */
  readonly clientAborts: Counter<'route' | 'method'>;
  readonly storageErrors: Counter<'driver' | 'operation'>;
  /** Driver calls that write (write, upload create/append/commit), and the bytes they wrote where known. */
  readonly storageWrites: Counter<'driver' | 'operation'>;
  readonly storageWrittenBytes: Counter<'driver'>;
  readonly databaseErrors: Counter<'operation'>;
  /** TCP connections accepted, by the event loop itself or in a batch behind it (http/accept-batch.ts). */
  readonly connectionsAccepted: Counter<'by'>;
  /** Synchronous SQLite time on the event loop, and the background worker's checkpoints. */
  readonly database: ReturnType<typeof databaseCallMetrics>;
  /** Stops the event-loop sampler. */
  stop(): void;
  /** The Prometheus text exposition: of this process, or of every worker under a cluster. */
  render(): Promise<{ contentType: string; body: string }>;
}

const COUNT_FAILED = -1;

export function createMetrics(options: MetricsOptions = {}): WharfMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'wharf_' });
  const registers = [registry];

  const requests = new Counter({
    name: 'wharf_http_requests_total',
    help: 'HTTP requests answered, by route kind, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'wharf_http_request_duration_seconds',
    help: 'HTTP request latency from headers received to response finished',
    labelNames: ['route', 'method'] as const,
    // Manifests and HEADs are milliseconds; blob transfers are seconds to minutes.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const bytesIn = new Counter({
    name: 'wharf_http_request_bytes_total',
    help: 'Request body bytes received (uploads), by route kind',
    labelNames: ['route'] as const,
    registers,
  });
  const bytesOut = new Counter({
    name: 'wharf_http_response_bytes_total',
    help: 'Response bytes sent (headers and body; blob downloads), by route kind',
    labelNames: ['route'] as const,
    registers,
  });
  const inFlight = new Gauge({ name: 'wharf_http_requests_in_flight', help: 'HTTP requests being served', registers });
  const clientAborts = new Counter({
    name: 'wharf_http_client_aborts_total',
    help: 'HTTP requests the client hung up on before the response was complete (mid-upload, mid-download), by route kind and method',
    labelNames: ['route', 'method'] as const,
    registers,
  });
  const storageErrors = new Counter({
    name: 'wharf_storage_errors_total',
    help: 'Failed storage driver calls (not counting "not found"), by driver and operation',
    labelNames: ['driver', 'operation'] as const,
    registers,
  });
  const storageWrites = new Counter({
    name: 'wharf_storage_writes_total',
    help: 'Storage driver calls that write (write, createUpload, appendUpload, commitUpload), by driver and operation',
    labelNames: ['driver', 'operation'] as const,
    registers,
  });
  const storageWrittenBytes = new Counter({
    name: 'wharf_storage_written_bytes_total',
    help: 'Bytes written through the storage driver (whole objects and upload appends), by driver',
    labelNames: ['driver'] as const,
    registers,
  });
  const databaseErrors = new Counter({
    name: 'wharf_database_errors_total',
    help: 'Failed metadata database calls, by operation',
    labelNames: ['operation'] as const,
    registers,
  });

  const connectionsAccepted = new Counter({
    name: 'wharf_http_connections_accepted_total',
    help: 'TCP connections accepted: by="loop", the event loop\'s one per turn; by="batch", waiting ones accepted with it (http.acceptBatch)',
    labelNames: ['by'] as const,
    registers,
  });

  const database = databaseCallMetrics(registry);
  const loop = options.processMetrics ?? true ? eventLoopDelayMetrics(registry) : undefined;

  if (options.counts) {
    const read = cachedCounts(options.counts, options.countsTtlMs ?? 5000);
    // Every worker reads the same database: a cluster reports the largest, not the sum.
    const gauge = (name: string, help: string, pick: (c: StoredCounts) => number) =>
      new Gauge({
        name,
        help,
        registers,
        aggregator: 'max',
        async collect() {
          const value = pick(await read());
          if (value !== COUNT_FAILED) this.set(value);
        },
      });
    gauge('wharf_blobs', 'Blobs stored (distinct digests)', (c) => c.blobs);
    gauge('wharf_manifests', 'Manifests stored (per repository)', (c) => c.manifests);
    gauge('wharf_upload_sessions_open', 'Upload sessions started and not yet finished or cancelled', (c) => c.uploadsOpen);
  }

  return {
    registry,
    requests,
    duration,
    bytesIn,
    bytesOut,
    inFlight,
    clientAborts,
    storageErrors,
    storageWrites,
    storageWrittenBytes,
    databaseErrors,
    connectionsAccepted,
    database,
    stop: () => loop?.stop(),
    async render() {
      if (cluster.isWorker && process.send) {
        const body = await clusterExposition().catch(() => undefined);
        if (body !== undefined) return { contentType: registry.contentType, body };
      }
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** Shares one COUNT round-trip between scrapes for `ttlMs`; a failed read reports nothing. */
function cachedCounts(read: () => Promise<StoredCounts>, ttlMs: number): () => Promise<StoredCounts> {
  let cached: { at: number; value: Promise<StoredCounts> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > ttlMs) {
      cached = {
        at: now,
        value: read().catch(() => ({ blobs: COUNT_FAILED, manifests: COUNT_FAILED, uploadsOpen: COUNT_FAILED })),
      };
    }
    return cached.value;
  };
}

// ---------------------------------------------------------------------------------- cluster
// A scrape reaches one worker; that worker asks the primary, which gathers every worker's
// registry over IPC (prom-client's AggregatorRegistry) and answers with the aggregate.

const ASK = 'wharf:metrics-ask';
const ANSWER = 'wharf:metrics-answer';
const CLUSTER_TIMEOUT_MS = 4000;

interface MetricsMessage {
  type: string;
  id: string;
  body?: string;
  error?: string;
}

const isMetricsMessage = (value: unknown): value is MetricsMessage =>
  typeof value === 'object' && value !== null && typeof (value as MetricsMessage).type === 'string';

function clusterExposition(): Promise<string> {
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (!isMetricsMessage(message) || message.type !== ANSWER || message.id !== id) return;
      finish();
      if (message.body !== undefined) resolve(message.body);
      else reject(new Error(message.error ?? 'no metrics'));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error('cluster metrics timed out'));
    }, CLUSTER_TIMEOUT_MS);
    const finish = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    process.send!({ type: ASK, id });
  });
}

/** In a cluster worker: lets the primary collect `registry` (call once, after createMetrics). */
export function shareWithPrimary(metrics: WharfMetrics): void {
  if (!cluster.isWorker) return;
  // The constructor installs prom-client's worker-side IPC listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
}

/** In the cluster primary: answers workers' requests for the cluster-wide exposition. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMetricsMessage(message) || message.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (body) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, body }),
      (error: unknown) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, error: String(error) }),
    );
  });
}

/**
 * A copy of `target` (an object of async methods, or of such objects one level down, like the
 * metadata store) whose methods report each rejection to `onFailure` as "<object>.<method>"
 * before passing it on. `isFailure` filters out errors that are not the target's fault.
 */
export function observeRejections<T extends object>(
  target: T,
  onFailure: (operation: string, error: unknown) => void,
  isFailure: (error: unknown) => boolean = () => true,
): T {
  return mapRejections(target, (operation, error) => {
    if (isFailure(error)) onFailure(operation, error);
    return error;
  });
}
