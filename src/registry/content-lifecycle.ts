import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../errors.js';
import { runExclusive } from '../lib/exclusive.js';
import { settleAll } from '../lib/settle-all.js';
import type { MetadataStore } from '../metadata/store.js';
import { parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { blobKey } from '../storage/keys.js';
import { EVICTION_STALE_MS, GC_LEASE, GC_LEASE_TTL_MS, type ContentLifecycle, type ReclaimedBlob } from './content.js';
import { fullSpeed, type GcPacer } from '../gc/pacer.js';

export interface ContentDeps {
  metadata: MetadataStore;
  storage: StorageDriver;
  now: () => number;
  /** Names this process in lease holders (a writer finishing a crashed run's deletion). */
  holder: string;
  /** How long a writer waits for GC to finish deleting a digest it wants (default 30 s). */
  settleTimeoutMs?: number;
  /** Byte deletions in flight at once (default 16). */
  deleteConcurrency?: number;
  /** The GC lease's time to live (default GC_LEASE_TTL_MS). */
  leaseTtlMs?: number;
}

const PAGE = 500;

/**
 * Publishing and reclaiming content, the two sides of the safety argument in docs/gc.md:
 *
 * - a writer reserves the digest's row (`pending`, or refreshes it when `live`) in a transaction
 *   before it relies on the bytes, puts the bytes in place, then makes the row `live` in the
 *   transaction that adds its references;
 * - a deleter first makes the row `deleting` in a transaction that re-checks that nothing
 *   references it, then deletes the bytes, then the row. Bytes are deleted by the owner of a
 *   `deleting` row only, and a row in any other state keeps them.
 */
export function contentLifecycle(deps: ContentDeps): ContentLifecycle {
  const { metadata, storage, now } = deps;
  const concurrency = deps.deleteConcurrency ?? 16;
  const settleTimeoutMs = deps.settleTimeoutMs ?? 30_000;
  const leaseTtlMs = deps.leaseTtlMs ?? GC_LEASE_TTL_MS;
  const keyOf = (digest: string) => blobKey(parseDigest(digest));
  const finishable = (page: { limit: number; after?: string; digest?: string }) =>
    metadata.reclaim.finishable({ evictionStaleBefore: now() - EVICTION_STALE_MS, ...page });

  /** Deletes the bytes of rows this caller owns (`deleting`); their rows go afterwards (`forget`). */
  async function deleteOwnedBytes(blobs: ReclaimedBlob[], signal: AbortSignal | undefined, pacer: GcPacer = fullSpeed) {
    // A lost lease: leave the rows for the next holder rather than delete bytes unexclusively.
    if (signal?.aborted) return { deleted: [], failed: blobs.map((b) => b.digest) };
    if (storage.deleteMany && blobs.length > 1) {
      // Bulk requests (S3) of the pacer's size; a failed request's rows stay for the next run.
      const deleted: ReclaimedBlob[] = [];
      const failed: string[] = [];
      for (let start = 0; start < blobs.length; start += pacer.keysPerRequest) {
        if (start > 0) await pacer.rest();
        const group = blobs.slice(start, start + pacer.keysPerRequest);
        const ok = !signal?.aborted && (await storage.deleteMany(group.map((b) => keyOf(b.digest))).then(() => true, () => false));
        if (ok) deleted.push(...group);
        else failed.push(...group.map((b) => b.digest));
      }
      return { deleted, failed };
    }
    const results = await settleAll(blobs, concurrency, (blob) => storage.delete(keyOf(blob.digest)));
    const deleted = blobs.filter((_, i) => results[i]!.status === 'fulfilled');
    const failed = blobs.filter((_, i) => results[i]!.status === 'rejected').map((b) => b.digest);
    return { deleted, failed };
  }

  /** Deletes the bytes of rows this caller owns, then the rows of those deleted. */
  async function deleteBytes(blobs: ReclaimedBlob[], signal: AbortSignal | undefined) {
    const result = await deleteOwnedBytes(blobs, signal);
    if (result.deleted.length > 0) await metadata.transaction((tx) => tx.reclaim.forget(result.deleted.map((b) => b.digest)));
    return result;
  }

  /** Waits until the deleter is done with `digest`; finishes a crashed run's deletion when no GC runs. */
  async function settle(digest: string): Promise<void> {
    const deadline = now() + settleTimeoutMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
      if ((await metadata.blobs.state(digest)) !== 'deleting') return;
      const helped = await runExclusive(metadata.leases, GC_LEASE, { holder: `${deps.holder}:writer:${randomUUID()}`, ttlMs: leaseTtlMs, now }, async (signal) => {
        const rows = await finishable({ limit: 1, digest });
        if (rows.length > 0) await deleteBytes(rows, signal);
        return rows.length > 0;
      });
      if (helped.ran && helped.value) continue;
      if (now() > deadline) {
        throw new RegistryError('UNAVAILABLE', 'the blob is being deleted by garbage collection; retry', { headers: { 'Retry-After': '5' }, detail: { digest } });
      }
      await sleep(delay);
    }
  }

  return {
    async publish(blob, putBytes, work, options = {}) {
      for (;;) {
        // The reservation's commit does not wait for the disk. A crash that takes it back leaves
        // `finalize` no row to make live (this loop starts over), and the bytes are at worst an
        // orphan that GC removes after the grace period (docs/gc.md).
        const outcome = await metadata.transaction((tx) => tx.blobs.reserve(blob, now()), { relaxed: true });
        if (outcome === 'deleting') {
          await settle(blob.digest);
          continue;
        }
        // The pending row keeps GC away from this digest's bytes while they are put in place;
        // a live row's refreshed touch keeps it away until `finalize` (the grace period).
        const placing = outcome === 'pending' ? putBytes() : undefined;
        if (!options.placeDuringWork || metadata.openTransactions() > 0) await placing;
        else placing?.catch(() => undefined); // awaited in the transaction below
        const done = await metadata.transaction(async (tx) => {
          const result = (await tx.blobs.finalize(blob.digest, now())) ? { done: true as const, value: await work(tx) } : { done: false as const };
          // Whichever way they were put, the bytes are in place before the commit makes them visible.
          await placing;
          return result;
        });
        if (done.done) return done.value;
        await settle(blob.digest);
      }
    },

    reference(digest, work) {
      return metadata.transaction(async (tx) => ((await tx.blobs.claimLive(digest, now())) ? work(tx) : null));
    },

    async reclaimBlobs(digests, before, options = {}) {
      const { signal, by = 'gc' } = options;
      if (digests.length === 0 || signal?.aborted) return { deleted: [], failed: [] };
      const owned = await metadata.transaction((tx) => tx.reclaim.markDeleting(digests, before, now(), by));
      return deleteBytes(owned, signal);
    },

    async reclaimBatches(batches, before, signal, pacer) {
      const deleted: ReclaimedBlob[] = [];
      const failed: string[] = [];
      let done: string[] = [];
      for (const batch of [...batches, []]) {
        const forget = done;
        // Rows only after their bytes: the batch forgotten here had its bytes deleted already.
        const owned = await metadata.transaction(async (tx) => {
          if (forget.length > 0) await tx.reclaim.forget(forget);
          return batch.length > 0 && !signal.aborted ? tx.reclaim.markDeleting(batch, before, now(), 'gc') : [];
        });
        const result = await deleteOwnedBytes(owned, signal, pacer);
        deleted.push(...result.deleted);
        failed.push(...result.failed);
        done = result.deleted.map((b) => b.digest);
        await pacer.rest();
      }
      return { deleted, failed };
    },

    async reclaimOrphan(blob, signal) {
      if (signal?.aborted) return false;
      if (!(await metadata.transaction((tx) => tx.reclaim.claimOrphan(blob.digest, blob.size, now())))) return false;
      return (await deleteBytes([blob], signal)).deleted.length > 0;
    },

    async finishDeletions(signal) {
      const deleted: ReclaimedBlob[] = [];
      const failed: string[] = [];
      let after: string | undefined;
      for (;;) {
        const rows = await finishable({ limit: PAGE, ...(after !== undefined ? { after } : {}) });
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!.digest;
        const result = await deleteBytes(rows.map(({ digest, size }) => ({ digest, size })), signal);
        deleted.push(...result.deleted);
        failed.push(...result.failed);
        if (rows.length < PAGE || signal?.aborted) break;
      }
      return { deleted, failed };
    },

    async reclaimUpload(id, before) {
      if (!(await metadata.transaction((tx) => tx.reclaim.deleteStaleUpload(id, before)))) return undefined;
      const size = await storage.uploadSize(id).catch(() => 0);
      await storage.abortUpload(id);
      return size;
    },
  };
}
