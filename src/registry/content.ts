import type { BlobRecord } from '../metadata/blobs.js';
import type { Deleter } from '../metadata/schema.js';
import type { MetadataStore } from '../metadata/store.js';
import type { GcPacer } from '../gc/pacer.js';

/**
 * The one way bytes become visible and the one way they go away (docs/gc.md). Writers — uploads,
 * manifest PUTs, the mirror — publish through `ContentPublisher`; GC, the mirror cache's eviction
 * and the upload purge delete through `ContentReclaimer`. Both sides meet on the blob row's state
 * in the metadata database, never on timing.
 */
export interface ContentPublisher {
  /**
   * Makes `blob` available and runs `work` (which adds the references) in the transaction that
   * confirms the bytes. `putBytes` runs when the bytes may be missing; it leaves them complete at
   * the blob's key or throws. Waits while GC is deleting the same digest, then puts them back.
   *
   * `options.placeDuringWork`: `putBytes` runs beside `work` and the commit waits for it, instead
   * of `work` waiting for it — when no other transaction is open. Only for small content (a
   * manifest): the transaction is held open while the bytes are placed, which for a large blob's
   * fsync, or with other writers queued for SQLite's connection, would hold them up.
   */
  publish<T>(blob: BlobRecord, putBytes: () => Promise<void>, work: (tx: MetadataStore) => Promise<T>, options?: PublishOptions): Promise<T>;
  /** A new reference to bytes that are there (mount, mirror adoption): runs `work` only if they are live, else null. */
  reference<T>(digest: string, work: (tx: MetadataStore) => Promise<T>): Promise<T | null>;
}

export interface PublishOptions {
  placeDuringWork?: boolean;
}

export interface ReclaimedBlob {
  digest: string;
  size: number;
}

export interface ContentReclaimer {
  /**
   * Deletes the bytes and rows of those `digests` that nothing references and nobody touched
   * since `before`. Returns what was deleted; failures stay in the `deleting` state for the next
   * run (`failed`). Stops before deleting bytes once `signal` aborts. `by`: `gc` when the caller
   * holds the GC lease (the default), `eviction` for the mirror cache, which does not.
   */
  reclaimBlobs(digests: string[], before: number, options?: { signal?: AbortSignal; by?: Deleter }): Promise<{ deleted: ReclaimedBlob[]; failed: string[] }>;
  /**
   * `reclaimBlobs` for many batches, GC's bulk path: each transaction both forgets the rows of the
   * batch whose bytes were just deleted and marks the next batch, halving the commits. `pacer`
   * sizes the store's delete requests and rests between them (gc/pacer.ts).
   */
  reclaimBatches(batches: string[][], before: number, signal: AbortSignal, pacer: GcPacer): Promise<{ deleted: ReclaimedBlob[]; failed: string[] }>;
  /** Deletes bytes that have no row at all (a crash between writing them and recording them). */
  reclaimOrphan(blob: ReclaimedBlob, signal?: AbortSignal): Promise<boolean>;
  /** Finishes deletions left in the `deleting` state (a crashed run's); only while holding the GC lease. */
  finishDeletions(signal?: AbortSignal): Promise<{ deleted: ReclaimedBlob[]; failed: string[] }>;
  /**
   * Deletes an upload session nobody touched since `before`: its row, then its bytes. Returns the
   * bytes freed, or undefined when the session was used since.
   */
  reclaimUpload(id: string, before: number): Promise<number | undefined>;
}

export type ContentLifecycle = ContentPublisher & ContentReclaimer;

/** The lease every deleter of bytes holds: GC runs, and a writer finishing a crashed run's deletion. */
export const GC_LEASE = 'gc';
/** How long the GC lease lasts without renewal, by default: how long a crashed run blocks the next. */
export const GC_LEASE_TTL_MS = 60_000;
/**
 * Eviction deletes without the lease; a `deleting` row of its own older than this is surely
 * finished or abandoned (its deletes time out well before), so a lease holder may finish it.
 */
export const EVICTION_STALE_MS = 10 * 60_000;
