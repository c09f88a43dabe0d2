import { parseDigest } from '../oci/digest.js';
import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { blobKey } from '../storage/keys.js';
import type { MirrorLog } from './deps.js';

export interface Evictor {
  /** Asks for a size check soon; cheap to call after every cache insert. */
  schedule(): void;
  /** Resolves when no eviction pass is running (for tests and shutdown). */
  idle(): Promise<void>;
}

const BATCH = 100;

/**
 * Keeps the cache under `maxBytes` by evicting the least recently pulled entries. Bytes are deleted
 * only when nothing else (a private repository, another mirror repository) still uses the digest.
 * One pass runs at a time per process; passes on several instances are harmless (each eviction is
 * one transaction, and a second one finds nothing to do).
 */
export function createEvictor(options: { metadata: MetadataStore; storage: StorageDriver; maxBytes: number; log: MirrorLog }): Evictor {
  const { metadata, storage, maxBytes, log } = options;
  let running: Promise<void> | undefined;
  let again = false;

  async function pass(): Promise<void> {
    let total = await metadata.mirrorCache.totalBytes();
    while (total > maxBytes) {
      const victims = await metadata.mirrorCache.leastRecentlyPulled(BATCH);
      if (victims.length === 0) return;
      for (const victim of victims) {
        if (total <= maxBytes) return;
        const orphaned = await metadata.transaction((tx) => tx.mirrorCache.evict(victim.repository, victim.digest, victim.kind));
        if (orphaned) await storage.delete(blobKey(parseDigest(victim.digest)));
        log.info({ repository: victim.repository, digest: victim.digest, size: victim.size, bytesDeleted: orphaned }, 'mirror cache entry evicted');
        total = await metadata.mirrorCache.totalBytes();
      }
    }
  }

  return {
    schedule() {
      if (maxBytes <= 0) return;
      if (running) {
        again = true;
        return;
      }
      running = (async () => {
        do {
          again = false;
          try {
            await pass();
          } catch (error) {
            log.error({ err: error }, 'mirror cache eviction failed');
          }
        } while (again);
      })().finally(() => {
        running = undefined;
      });
    },
    async idle() {
      while (running) await running;
    },
  };
}
