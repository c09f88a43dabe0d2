/**
 * The events Wharf publishes, and what each carries. Payloads are JSON; docs/webhooks.md shows an
 * example of each. Producers outside this folder (the registry, promotion, GC, quotas) publish
 * through `EventPublisher` (publisher.ts) inside the transaction of the change they describe.
 */
export const eventTypes = ['push', 'pull', 'delete', 'promotion', 'tag.moved', 'base.updated', 'quota.warning', 'gc.finished'] as const;
export type EventType = (typeof eventTypes)[number];
export const isEventType = (value: string): value is EventType => (eventTypes as readonly string[]).includes(value);

/** What an endpoint receives when it names no types: everything but pulls (one event per pull adds up). */
export const defaultEventTypes: readonly EventType[] = eventTypes.filter((t) => t !== 'pull');

/** The HTTP request that caused an event, when one did (Distribution's envelope carries it). */
export interface RequestInfo {
  id: string;
  addr: string;
  host: string;
  method: string;
  userAgent: string;
}

export interface ImageRef {
  repository: string;
  digest: string;
  /** The image's tags in that repository. */
  tags: string[];
}

export interface EventData {
  /** A manifest was pushed (`tag` null: by digest). */
  push: { repository: string; digest: string; mediaType: string; size: number; tag: string | null };
  /** A manifest was pulled (only written when some endpoint wants pulls). */
  pull: { repository: string; digest: string; mediaType: string; size: number; tag: string | null };
  /** A manifest (with its tags) or a tag was deleted. */
  delete: { repository: string; digest: string | null; tag: string | null };
  promotion: {
    source: { repository: string; reference: string };
    target: { repository: string; tag: string | null };
    digest: string;
    mediaType: string;
    size: number;
    note: string | null;
    /** Manifests copied: the image, an index's children, referrers. */
    manifests: number;
  };
  /** A tag that pointed at `previous` now points at `digest`. */
  'tag.moved': { repository: string; tag: string; previous: string; digest: string; via: 'push' | 'promotion' };
  /** A tag that images were built on moved: they are now stale (those the endpoint's project may see). */
  'base.updated': { repository: string; tag: string; previous: string; digest: string; staleDependents: ImageRef[] };
  /** A push took a project's usage to its quota's warning share (once per crossing). */
  'quota.warning': { project: string; usedBytes: number; quotaBytes: number; percent: number };
  /** A garbage collection run ended: its counts (the items are in `GET /api/v1/gc/runs/{id}`). */
  'gc.finished': {
    id: string;
    status: 'finished' | 'failed';
    dryRun: boolean;
    trigger: string;
    project: string | null;
    durationMs: number | null;
    tags: number;
    manifests: number;
    blobs: number;
    bytesFreed: number;
    failed: number;
    error: string | null;
  };
}

/** An event as endpoints receive it in the `wharf` format. */
export interface WharfEvent<T extends EventType = EventType> {
  id: string;
  type: T;
  /** ISO 8601. */
  time: string;
  /** null for registry-wide events (`gc.finished`). */
  project: string | null;
  /** Who caused it: a user, `robot$…`, `anonymous`, or `wharf` for the server itself. */
  actor: string;
  request?: RequestInfo;
  data: EventData[T];
}

/**
 * What a producer hands to `publish`: the publisher adds the id and the time. `audience` narrows
 * who hears it: `project`: only the project's endpoints; `registry`: only registry-wide ones;
 * absent: both (for events whose content every listener of the project may see).
 */
export type NewEvent = {
  [T in EventType]: { type: T; project: string | null; actor: string; request?: RequestInfo; audience?: 'project' | 'registry'; data: EventData[T] };
}[EventType];
