import type { MetadataStore } from '../metadata/store.js';
import type { ContentReclaimer } from '../registry/content.js';
import type { MirrorLog } from './deps.js';

export interface Evictor {
  /** Asks for a size check soon; cheap to call after every cache insert. */
  schedule(): void;
  /** Resolves when no eviction pass is running (for tests and shutdown). */
  idle(): Promise<void>;
}

const BATCH = 100;

/**
 * Keeps the cache under `maxBytes` by evicting the least recently pulled entries. Eviction removes
 * the cache's references; the bytes go through the one delete path (docs/gc.md), which keeps them
 * while anything else (a private repository, another mirror repository, a push in flight) uses
 * the digest. One pass runs at a time per process; passes on several instances are harmless (each
 * eviction is one transaction, and a second one finds nothing to do).
 */
export function createEvictor(options: { metadata: MetadataStore; content: ContentReclaimer; maxBytes: number; now: () => number; log: MirrorLog }): Evictor {
  const { metadata, content, maxBytes, log } = options;
  let running: Promise<void> | undefined;
  let again = false;

  async function pass(): Promise<void> {
    let total = await metadata.mirrorCache.totalBytes();
    while (total > maxBytes) {
      const victims = await metadata.mirrorCache.leastRecentlyPulled(BATCH);
      if (victims.length === 0) return;
      for (const victim of victims) {
        if (total <= maxBytes) return;
        await metadata.transaction((tx) => tx.mirrorCache.evict(victim.repository, victim.digest, victim.kind));
        const { deleted } = await content.reclaimBlobs([victim.digest], options.now(), { by: 'eviction' });
        log.info({ repository: victim.repository, digest: victim.digest, size: victim.size, bytesDeleted: deleted.length > 0 }, 'mirror cache entry evicted');
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
