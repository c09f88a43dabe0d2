import { timeOrderedId } from '../lib/ids.js';
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

const FLUSH_DELAY_MS = 100;
const FLUSH_BATCH = 500;

/**
 * Events are batched: each write of the metadata database is a durable commit, and one per pulled
 * manifest would cap pulls at the disk's fsync rate. A batch goes out within FLUSH_DELAY_MS, or at
 * once when FLUSH_BATCH events wait; `settle()` flushes now.
 */
export function auditLog(options: { store: AuditStore; now: () => number; retentionDays: number; onError: (error: unknown) => void }): AuditLog {
  let queue: AuditEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return writing;
    const batch = queue;
    queue = [];
    writing = writing.then(() => options.store.append(batch)).catch(options.onError);
    return writing;
  };

  return {
    record(event) {
      queue.push({
        id: timeOrderedId(options.now()),
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
      });
      if (queue.length >= FLUSH_BATCH) void flush();
      else timer ??= setTimeout(() => void flush(), FLUSH_DELAY_MS).unref();
    },
    settle: flush,
    query(query) {
      return options.store.query(query);
    },
    purge() {
      return options.store.deleteOlderThan(options.now() - options.retentionDays * 86_400_000);
    },
  };
}
