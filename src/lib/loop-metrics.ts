import { createHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How often the event loop is sampled: a timer that should fire every SAMPLE_MS. */
const SAMPLE_MS = 20;
const QUANTILES = [0.5, 0.99, 1] as const;

/**
 * Event-loop delay: how late a timer due every SAMPLE_MS fires, i.e. how long any request that
 * arrived at that moment waited before JavaScript could look at it. Two views:
 * - `wharf_event_loop_delay_seconds`, a cumulative histogram: rates and quantiles over any
 *   window (`histogram_quantile(0.99, rate(...[5m]))`), summed across workers and instances;
 * - `wharf_event_loop_delay_window_seconds{quantile="0.5|0.99|1"}`: p50, p99 and max since the
 *   previous scrape (reset by each scrape: meaningful with one scraper).
 * Unlike prom-client's `nodejs_eventloop_lag_*` gauges, the values exclude the sampling interval.
 */
export function eventLoopDelayMetrics(registry: Registry): { stop(): void } {
  const registers = [registry];
  const histogram = new Histogram({
    name: 'wharf_event_loop_delay_seconds',
    help: 'Event-loop delay: lateness of a timer sampled every 20 ms',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers,
  });
  const window = createHistogram();
  new Gauge({
    name: 'wharf_event_loop_delay_window_seconds',
    help: 'Event-loop delay since the previous scrape: p50, p99 and max (quantile="1")',
    labelNames: ['quantile'] as const,
    registers,
    aggregator: 'max',
    collect() {
      for (const q of QUANTILES) this.set({ quantile: String(q) }, window.count === 0 ? 0 : (q === 1 ? window.max : window.percentile(q * 100)) / 1e9);
      window.reset();
    },
  });

  let expected = performance.now() + SAMPLE_MS;
  const timer = setTimeout(function sample() {
    const now = performance.now();
    const lateMs = Math.max(0, now - expected);
    histogram.observe(lateMs / 1000);
    window.record(Math.max(1, Math.round(lateMs * 1e6)));
    expected = now + SAMPLE_MS;
    timer.refresh();
  }, SAMPLE_MS);
  timer.unref();
  return { stop: () => clearTimeout(timer) };
}

export type DatabaseCallKind = 'read' | 'write' | 'commit';

/**
 * Time the event loop spent inside synchronous SQLite calls (better-sqlite3), by kind, and the
 * calls; plus the WAL checkpoints the background worker ran. Counted in plain numbers on the hot
 * path and handed to prom-client at scrape time.
 */
export function databaseCallMetrics(registry: Registry): {
  observe(kind: DatabaseCallKind, seconds: number): void;
  checkpointed(seconds: number): void;
  walSynced(seconds: number, writers: number): void;
} {
  const registers = [registry];
  const totals = { read: { calls: 0, seconds: 0 }, write: { calls: 0, seconds: 0 }, commit: { calls: 0, seconds: 0 } };
  const reported = { read: { calls: 0, seconds: 0 }, write: { calls: 0, seconds: 0 }, commit: { calls: 0, seconds: 0 } };
  const seconds = new Counter({
    name: 'wharf_database_sync_seconds_total',
    help: 'Time the event loop spent inside synchronous SQLite calls, by kind (read, write, commit: writes the WAL frames)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      for (const kind of ['read', 'write', 'commit'] as const) {
        seconds.inc({ kind }, totals[kind].seconds - reported[kind].seconds);
        calls.inc({ kind }, totals[kind].calls - reported[kind].calls);
        reported[kind] = { ...totals[kind] };
      }
    },
  });
  const calls = new Counter({
    name: 'wharf_database_statements_total',
    help: 'Synchronous SQLite statements run on the event loop, by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const checkpoints = new Counter({ name: 'wharf_database_checkpoints_total', help: 'SQLite WAL checkpoints run by the background worker', registers });
  const checkpointSeconds = new Counter({ name: 'wharf_database_checkpoint_seconds_total', help: 'Time the background worker spent in WAL checkpoints (off the event loop)', registers });
  const walSyncs = new Counter({ name: 'wharf_database_wal_syncs_total', help: 'WAL fsyncs of the group commit (in the thread pool, off the event loop)', registers });
  const walSyncSeconds = new Counter({ name: 'wharf_database_wal_sync_seconds_total', help: 'Time the group commit spent in WAL fsyncs', registers });
  const walSyncWriters = new Counter({ name: 'wharf_database_wal_sync_writers_total', help: 'Writers answered by the group commit\'s WAL fsyncs (over wharf_database_wal_syncs_total: writers per fsync)', registers });
  return {
    observe(kind, s) {
      totals[kind].calls += 1;
      totals[kind].seconds += s;
    },
    checkpointed(s) {
      checkpoints.inc();
      checkpointSeconds.inc(s);
    },
    walSynced(s, writers) {
      walSyncs.inc();
      walSyncSeconds.inc(s);
      walSyncWriters.inc(writers);
    },
  };
}
