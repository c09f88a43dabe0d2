import { Counter, Gauge, type Registry } from 'prom-client';
import type { GcReport } from './report.js';

const KINDS = ['tags', 'manifests', 'links', 'blobs', 'orphans', 'uploads'] as const;

/** GC's figures in the app's metrics registry; returns what to call with each finished run's report. */
export function gcMetrics(registry: Registry): (report: GcReport) => void {
  const registers = [registry];
  const runs = new Counter({ name: 'wharf_gc_runs_total', help: 'GC runs, by outcome and whether they were dry runs', labelNames: ['status', 'dry_run'] as const, registers });
  const removed = new Counter({ name: 'wharf_gc_removed_total', help: 'Items GC removed (real runs), by kind', labelNames: ['kind'] as const, registers });
  const freed = new Counter({ name: 'wharf_gc_freed_bytes_total', help: 'Bytes GC deleted from the store (real runs)', registers });
  const failed = new Counter({ name: 'wharf_gc_failed_deletions_total', help: 'Deletions GC left for the next run after a storage error', registers });
  const last = new Gauge({ name: 'wharf_gc_last_run_timestamp_seconds', help: 'When the last real GC run of this process finished', registers });
  const duration = new Gauge({ name: 'wharf_gc_last_run_duration_seconds', help: 'How long the last real GC run of this process took', registers });
  for (const kind of KINDS) removed.inc({ kind }, 0);
  return (report) => {
    runs.inc({ status: report.status, dry_run: String(report.dryRun) });
    if (report.dryRun) return;
    for (const kind of KINDS) removed.inc({ kind }, report[kind]);
    freed.inc(report.bytesFreed);
    failed.inc(report.failed);
    if (report.finishedAt) last.set(Date.parse(report.finishedAt) / 1000);
    if (report.durationMs !== null) duration.set(report.durationMs / 1000);
  };
}
