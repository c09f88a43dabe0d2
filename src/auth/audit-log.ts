import { createHash } from 'node:crypto';
import { timeOrderedId } from '../lib/ids.js';
import type { AuditEvent, AuditQuery, AuditStore, ManifestPulls, PullRow } from '../metadata/audit.js';

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

/** A manifest served to a client (a pull). */
export interface PullInput {
  actor: string;
  source?: string | undefined;
  project: string;
  repository: string;
  reference: string;
  digest: string;
  detail?: Record<string, unknown> | undefined;
}

/** `hourly`: one audit row per manifest, reference, identity and hour; `each`: one per pull. */
export type PullAuditMode = 'hourly' | 'each';

export interface AuditLog {
  /** Queues the event; never throws and never slows the request that caused it. */
  record(event: AuditInput): void;
  /** Counts a pull (the manifest's pull count and last pull, and the audit log); as cheap as `record`. */
  recordPull(pull: PullInput): void;
  /** Resolves once every queued event and pull is written (reads in this process see them). */
  settle(): Promise<void>;
  query(query: AuditQuery): Promise<{ events: AuditEvent[]; total: number }>;
  /** Deletes events older than the retention period; returns how many. */
  purge(): Promise<number>;
}

export interface AuditLogOptions {
  store: AuditStore;
  now: () => number;
  retentionDays: number;
  /** Default `hourly`. */
  pulls?: PullAuditMode;
  onError: (error: unknown) => void;
}

const EVENT_DELAY_MS = 100;
/** Pulls wait longer: they are counted in memory meanwhile, so a flush carries many of them. */
const PULL_DELAY_MS = 5_000;
const FLUSH_BATCH = 500;
/** Distinct pull keys held before a flush is forced (memory stays bounded). */
const PULL_KEYS = 10_000;
/** What a failed flush keeps for the next one (events, pull rows, manifests each); beyond it, the oldest go. */
const RETRY_LIMIT = 100_000;
const HOUR_MS = 3_600_000;

/**
 * Audit events are batched: a commit per event would cap requests at the disk's fsync rate. A
 * batch goes out within EVENT_DELAY_MS, or at once when FLUSH_BATCH events wait. Pulls, the most
 * frequent event by far, are not rows each: they are counted in memory per manifest (its pull
 * count and last pull time) and, for the audit log, per manifest, reference, identity and hour,
 * and written every PULL_DELAY_MS as increments (upserts), so instances sharing the database add
 * up instead of overwriting each other. One transaction carries everything a flush writes, run by
 * the store's background writer (a worker thread with SQLite). `settle()` flushes now.
 */
export function auditLog(options: AuditLogOptions): AuditLog {
  const hourly = (options.pulls ?? 'hourly') === 'hourly';
  let events: AuditEvent[] = [];
  let pulls = new Map<string, PullRow>();
  let manifests = new Map<string, ManifestPulls>();
  let timer: NodeJS.Timeout | undefined;
  let timerDue = Infinity;
  let writing: Promise<void> = Promise.resolve();

  const schedule = (delayMs: number) => {
    const due = Date.now() + delayMs;
    if (timer && timerDue <= due) return;
    if (timer) clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(() => void flush(), delayMs).unref();
  };

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    timerDue = Infinity;
    if (events.length === 0 && pulls.size === 0 && manifests.size === 0) return writing;
    const batch = { events, pulls: [...pulls], manifests: [...manifests.values()] };
    events = [];
    pulls = new Map();
    manifests = new Map();
    writing = writing
      .then(() => options.store.write({ events: batch.events, pulls: batch.pulls.map(([, row]) => row), manifests: batch.manifests }))
      .catch((error: unknown) => {
        options.onError(error);
        keepForRetry(batch);
      });
    return writing;
  };

  /** A failed batch goes back in front of what came since, to be written by the next flush. */
  const keepForRetry = (batch: { events: AuditEvent[]; pulls: [string, PullRow][]; manifests: ManifestPulls[] }) => {
    events = [...batch.events, ...events].slice(-RETRY_LIMIT);
    for (const [key, row] of batch.pulls) mergePull(pulls, key, row);
    for (const m of batch.manifests) mergeManifest(m.repository, m.digest, m.count, m.time);
    if (pulls.size > RETRY_LIMIT) pulls = new Map([...pulls].slice(-RETRY_LIMIT));
    if (manifests.size > RETRY_LIMIT) manifests = new Map([...manifests].slice(-RETRY_LIMIT));
    schedule(PULL_DELAY_MS);
  };

  const mergeManifest = (repository: string, digest: string, count: number, time: number) => {
    const key = `${repository}@${digest}`;
    const known = manifests.get(key);
    if (known) {
      known.count += count;
      if (time > known.time) known.time = time;
    } else {
      manifests.set(key, { repository, digest, count, time });
    }
  };

  const queue = (event: AuditEvent) => {
    events.push(event);
    if (events.length >= FLUSH_BATCH) void flush();
    else schedule(EVENT_DELAY_MS);
  };

  return {
    record(event) {
      const time = options.now();
      queue({
        id: timeOrderedId(time),
        time,
        actor: event.actor,
        source: event.source ?? null,
        action: event.action,
        project: event.project ?? null,
        repository: event.repository ?? null,
        reference: event.reference ?? null,
        digest: event.digest ?? null,
        result: event.result,
        detail: event.detail ? JSON.stringify(event.detail) : null,
        count: 1,
        first_time: null,
      });
    },
    recordPull(pull) {
      const time = options.now();
      mergeManifest(pull.repository, pull.digest, 1, time);
      const detail = pull.detail ? JSON.stringify(pull.detail) : null;
      const source = pull.source ?? null;
      const hour = time - (time % HOUR_MS);
      const key = hourly ? `${hour}\n${pull.repository}\n${pull.digest}\n${pull.reference}\n${pull.actor}\n${detail ?? ''}` : '';
      const known = hourly ? pulls.get(key) : undefined;
      if (known) {
        known.count += 1;
        if (time >= known.time) {
          known.time = time;
          known.source = source;
        }
      } else {
        const row: PullRow = {
          id: hourly ? `${hour.toString(36).padStart(9, '0')}-pull-${createHash('sha256').update(key).digest('hex').slice(0, 32)}` : timeOrderedId(time),
          time,
          first_time: time,
          actor: pull.actor,
          source,
          action: 'pull',
          project: pull.project,
          repository: pull.repository,
          reference: pull.reference,
          digest: pull.digest,
          result: 'success',
          detail,
          count: 1,
        };
        if (!hourly) {
          queue({ ...row, first_time: null });
          return;
        }
        pulls.set(key, row);
      }
      if (pulls.size >= PULL_KEYS) void flush();
      else schedule(PULL_DELAY_MS);
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

/** Adds `row` (pulls of the same key) to the hourly row under `key`, or makes it that row. */
function mergePull(pulls: Map<string, PullRow>, key: string, row: PullRow): void {
  const known = pulls.get(key);
  if (!known) {
    pulls.set(key, row);
    return;
  }
  known.count += row.count;
  if (row.time > known.time) {
    known.time = row.time;
    known.source = row.source;
  }
  if (row.first_time < known.first_time) known.first_time = row.first_time;
}
