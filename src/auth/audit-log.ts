import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditQuery, AuditStore } from '../metadata/audit.js';

export type AuditResult = 'success' | 'failure' | 'denied' | 'rate-limited';

/** One thing worth recording: who did what, where from, to which repository, and how it ended. */
export interface AuditInput {
  actor: string;
  source?: string | undefined;
  action: string;
  project?: string | undefined;
  repository?: string | undefined;
  reference?: string | undefined;
  digest?: string | undefined;
  result: AuditResult;
  detail?: Record<string, unknown> | undefined;
}

export interface AuditLog {
  /** Queues the event; never throws and never slows the request that caused it. */
  record(event: AuditInput): void;
  /** Resolves once every queued event is written (reads in this process see them). */
  settle(): Promise<void>;
  query(query: AuditQuery): Promise<{ events: AuditEvent[]; total: number }>;
  /** Deletes events older than the retention period; returns how many. */
  purge(): Promise<number>;
}

export function auditLog(options: { store: AuditStore; now: () => number; retentionDays: number; onError: (error: unknown) => void }): AuditLog {
  const pending = new Set<Promise<void>>();
  return {
    record(event) {
      const write = options.store
        .append({
          id: `${options.now().toString(36).padStart(9, '0')}-${randomUUID()}`,
          time: options.now(),
          actor: event.actor,
          source: event.source ?? null,
          action: event.action,
          project: event.project ?? null,
          repository: event.repository ?? null,
          reference: event.reference ?? null,
          digest: event.digest ?? null,
          result: event.result,
          detail: event.detail ? JSON.stringify(event.detail) : null,
        })
        .catch(options.onError)
        .finally(() => pending.delete(write));
      pending.add(write);
    },
    async settle() {
      await Promise.all([...pending]);
    },
    query(query) {
      return options.store.query(query);
    },
    purge() {
      return options.store.deleteOlderThan(options.now() - options.retentionDays * 86_400_000);
    },
  };
}
