import { timeOrderedId } from '../lib/ids.js';
import type { MetadataStore } from '../metadata/store.js';
import type { EventType, NewEvent, WharfEvent } from './types.js';

/** The part of a (transaction's) metadata store that publishing writes to. */
export type OutboxWriter = Pick<MetadataStore, 'webhooks' | 'outbox'>;

/**
 * How producers publish events. The contract:
 * - `publish(tx, event)` runs INSIDE the transaction of the change the event describes (pass the
 *   transaction's store), so the event exists if and only if the change does. It writes nothing
 *   when no enabled endpoint of the event's project (or registry-wide endpoint) wants the type.
 * - `publishPull(event)` is for reads, which have no transaction: it writes only when some
 *   endpoint wants pulls (checked against a cache refreshed every few seconds), never failing
 *   the pull.
 * GC and quotas (src/gc) publish `gc.finished` (project null) and `quota.warning` this way.
 */
export interface EventPublisher {
  publish(tx: OutboxWriter, event: NewEvent): Promise<void>;
  publishPull(event: Extract<NewEvent, { type: 'pull' }>): void;
  /** Endpoints changed: forget the cached "who wants pulls". */
  endpointsChanged(): void;
}

export interface PublisherOptions {
  metadata: OutboxWriter;
  now: () => number;
  /** Called after an event is written (wakes the delivery loop; it re-checks after the commit). */
  onPublished?: () => void;
  onError: (error: unknown) => void;
  /** How long the pull-subscription check is trusted (default 5 s). */
  pullCacheMs?: number;
}

export function eventPublisher(options: PublisherOptions): EventPublisher {
  const pullCacheMs = options.pullCacheMs ?? 5_000;
  let pullListeners: { at: number; projects: Set<string | null> } | undefined;
  let loading: Promise<Set<string | null>> | undefined;

  const wantsPulls = async (): Promise<Set<string | null>> => {
    const now = options.now();
    if (pullListeners && now - pullListeners.at < pullCacheMs) return pullListeners.projects;
    loading ??= options.metadata.webhooks
      .list()
      .then((endpoints) => {
        const projects = new Set(endpoints.filter((e) => e.enabled && e.eventTypes.includes('pull')).map((e) => e.project));
        pullListeners = { at: now, projects };
        return projects;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };

  async function publish(tx: OutboxWriter, event: NewEvent): Promise<void> {
    const endpoints = (await tx.webhooks.listening(event.project)).filter(
      (e) => e.eventTypes.includes(event.type as EventType) && (event.audience === undefined || (event.audience === 'registry') === (e.project === null)),
    );
    if (endpoints.length === 0) return;
    const now = options.now();
    const id = timeOrderedId(now);
    const full: WharfEvent = { id, type: event.type, time: new Date(now).toISOString(), project: event.project, actor: event.actor, ...(event.request ? { request: event.request } : {}), data: event.data };
    await tx.outbox.enqueue({ id, type: event.type, time: now, project: event.project, payload: JSON.stringify(full) }, endpoints.map((e) => e.id));
    options.onPublished?.();
  }

  return {
    publish,
    publishPull(event) {
      void (async () => {
        const projects = await wantsPulls();
        if (!projects.has(null) && !projects.has(event.project)) return;
        await publish(options.metadata, event);
      })().catch(options.onError);
    },
    endpointsChanged() {
      pullListeners = undefined;
    },
  };
}
