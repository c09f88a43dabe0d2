import { randomUUID } from 'node:crypto';
import type { MetadataStore } from '../metadata/store.js';
import { digestOf, parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { blobKey } from '../storage/keys.js';

/** How long placed manifests gather before one round of fsyncs makes them all durable. */
const SETTLE_DELAY_MS = 50;
/** After a failed round, how long before the next try. */
const RETRY_DELAY_MS = 1_000;
const REPLAY_PAGE = 500;
/**
 * Entries committed and not yet flushed beyond which new PUTs place their bytes durably
 * themselves: should the flushes fall behind a sustained stream of PUTs, the journal (and what a
 * start after a crash replays) stays bounded, and PUTs wait for their own flushes again.
 */
const MAX_UNFLUSHED = 2_000;

/**
 * A manifest PUT on the filesystem store waits for one flush, the database's commit, instead of
 * three in a row (the bytes' write, the rename's directory, the commit). The bytes are placed
 * without a flush and recorded in the journal by the transaction that makes the manifest visible,
 * so once the PUT answers they are durable in the database. Shortly after, one round of fsyncs
 * makes the files durable and the entries are dropped. A start after a crash puts back every
 * journaled manifest the database still holds, before it serves (docs/storage.md).
 */
export interface PlacementJournal {
  /** Whether a PUT starting now should journal its bytes (false while too many are unflushed). */
  accepting(): boolean;
  /** Records `body`, just placed without a flush, in `tx` (the transaction that makes it visible); returns the entry's id. */
  record(tx: MetadataStore, digest: string, body: Buffer): Promise<string>;
  /** Once that transaction committed: the file is flushed in the next round, then the entry dropped. */
  committed(id: string, digest: string): void;
  /** Rewrites, durably, the journaled manifests a crash may have lost, and empties the journal. Returns how many it rewrote. */
  replay(): Promise<number>;
  /** Flushes what is pending and stops. What it cannot flush stays journaled for the next start. */
  close(): Promise<void>;
}

export interface PlacementJournalDeps {
  metadata: MetadataStore;
  /** Where replays are written (durably). */
  storage: Pick<StorageDriver, 'write'>;
  /** The store's `syncPlaced`. */
  syncPlaced(keys: readonly string[]): Promise<void>;
  now: () => number;
  onError(error: unknown): void;
  /** Manifests whose journaled bytes no longer match their digest (never expected). */
  onInconsistency(message: string, fields: Record<string, unknown>): void;
  /** Default MAX_UNFLUSHED. */
  maxUnflushed?: number;
}

export function placementJournal(deps: PlacementJournalDeps): PlacementJournal {
  const { metadata, storage, maxUnflushed = MAX_UNFLUSHED } = deps;
  /** Committed entries not yet flushed: id → key. */
  const pending = new Map<string, string>();
  /** Entries the running round is flushing. */
  let flushing = 0;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let closed = false;

  function schedule(delayMs: number): void {
    if (timer || round || closed || pending.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      round = settle().then((failed) => {
        round = undefined;
        schedule(failed ? RETRY_DELAY_MS : SETTLE_DELAY_MS);
      });
    }, delayMs);
  }

  /** One round: flush the pending files, then forget their entries. Resolves true when it failed. */
  async function settle(): Promise<boolean> {
    const batch = [...pending];
    pending.clear();
    flushing = batch.length;
    try {
      await deps.syncPlaced([...new Set(batch.map(([, key]) => key))]);
      // Relaxed: an entry a crash brings back is only replayed once more (rewriting the same bytes).
      await metadata.transaction((tx) => tx.placementJournal.remove(batch.map(([id]) => id)), { relaxed: true });
      return false;
    } catch (error) {
      for (const [id, key] of batch) pending.set(id, key);
      deps.onError(error);
      return true;
    } finally {
      flushing = 0;
    }
  }

  return {
    accepting: () => pending.size + flushing < maxUnflushed,

    async record(tx, digest, body) {
      const id = randomUUID();
      await tx.placementJournal.add({ id, digest, body }, deps.now());
      return id;
    },

    committed(id, digest) {
      pending.set(id, blobKey(parseDigest(digest)));
      schedule(SETTLE_DELAY_MS);
    },

    async replay() {
      let rewritten = 0;
      for (;;) {
        const entries = await metadata.placementJournal.oldest(REPLAY_PAGE);
        if (entries.length === 0) return rewritten;
        for (const entry of entries.filter((e) => e.held)) {
          const digest = parseDigest(entry.digest);
          if (digestOf(entry.body, digest.algorithm).value !== digest.value) {
            deps.onInconsistency('placement journal entry does not match its digest; not replayed', { digest: entry.digest });
            continue;
          }
          // A durable write (rename over whatever is there): the same bytes, whole, after a crash.
          await storage.write(blobKey(digest), entry.body);
          rewritten += 1;
        }
        await metadata.placementJournal.remove(entries.map((e) => e.id));
      }
    },

    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await round;
      if (pending.size > 0) await settle();
    },
  };
}
