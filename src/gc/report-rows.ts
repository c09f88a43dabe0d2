import type { GcRunRow } from '../metadata/gc-runs.js';
import type { GcReport, GcStatus, GcTrigger } from './report.js';

interface StoredSummary {
  tags?: number;
  manifests?: number;
  links?: number;
  blobs?: number;
  orphans?: number;
  uploads?: number;
  bytesFreed?: number;
  failed?: number;
  truncated?: boolean;
}

/** A stored run as a report (counts from its summary; item lists are read separately). */
export function reportOf(row: Omit<GcRunRow, 'items'>): GcReport {
  const summary = row.summary ? (JSON.parse(row.summary) as StoredSummary) : {};
  const startedAt = Number(row.started_at);
  const finishedAt = row.finished_at === null ? null : Number(row.finished_at);
  return {
    id: row.id,
    status: row.status as GcStatus,
    dryRun: Number(row.dry_run) === 1,
    trigger: row.trigger as GcTrigger,
    actor: row.actor,
    project: row.project,
    graceSeconds: Math.round(Number(row.grace_ms) / 1000),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: finishedAt === null ? null : new Date(finishedAt).toISOString(),
    durationMs: finishedAt === null ? null : finishedAt - startedAt,
    tags: summary.tags ?? 0,
    manifests: summary.manifests ?? 0,
    links: summary.links ?? 0,
    blobs: summary.blobs ?? 0,
    orphans: summary.orphans ?? 0,
    uploads: summary.uploads ?? 0,
    bytesFreed: summary.bytesFreed ?? 0,
    failed: summary.failed ?? 0,
    error: row.error,
    ...(summary.truncated ? { truncated: true } : {}),
  };
}
