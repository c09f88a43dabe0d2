import type { EventPublisher, OutboxWriter } from '../events/publisher.js';
import type { NewEvent } from '../events/types.js';
import type { UsageChange } from '../metadata/project-usage.js';
import type { GcReport } from './report.js';

/** `gc.finished`: a registry-wide event with the run's counts (the items stay in the run's report). */
export function gcFinishedEvent(report: GcReport): NewEvent {
  return {
    type: 'gc.finished',
    project: null,
    actor: report.actor,
    audience: 'registry',
    data: {
      id: report.id,
      status: report.status === 'finished' ? 'finished' : 'failed',
      dryRun: report.dryRun,
      trigger: report.trigger,
      project: report.project,
      durationMs: report.durationMs,
      tags: report.tags,
      manifests: report.manifests,
      blobs: report.blobs,
      bytesFreed: report.bytesFreed,
      failed: report.failed,
      error: report.error,
    },
  };
}

/** `quota.warning`: the project's usage reached the warning share of its quota. */
export function quotaWarningEvent(change: UsageChange & { quotaBytes: number }): NewEvent {
  return {
    type: 'quota.warning',
    project: change.project,
    actor: 'wharf',
    data: { project: change.project, usedBytes: change.usedBytes, quotaBytes: change.quotaBytes, percent: Math.floor((change.usedBytes * 100) / change.quotaBytes) },
  };
}

/**
 * Publishes an event about something already committed (a GC run's report, a push's usage): it is
 * written to the outbox right after, and a failure is logged, never thrown at the finished work.
 */
export function publishAfterCommit(publisher: EventPublisher, outbox: OutboxWriter, onError: (error: unknown) => void): (event: NewEvent) => void {
  return (event) => void publisher.publish(outbox, event).catch(onError);
}

