import { LruCache } from '../lib/lru.js';
import type { BrowseStore } from '../metadata/browse.js';
import type { Registry } from './registry.js';

export interface PullTrackingOptions {
  browse: Pick<BrowseStore, 'markPulled'>;
  now: () => number;
  /** At most one write per manifest in this window (default one minute). */
  throttleMs?: number;
  onError(error: unknown): void;
}

/**
 * Decorates a registry so each manifest GET records when the manifest was last pulled, cheaply:
 * an in-process map skips the write inside the throttle window, and the UPDATE itself only
 * touches a row whose stored time is older than the window (so N instances write ~N per minute
 * at most). The write happens after the answer, never delaying the pull.
 */
export function withPullTracking(registry: Registry, options: PullTrackingOptions): Registry {
  const throttleMs = options.throttleMs ?? 60_000;
  const recent = new LruCache<string, number>(100_000, () => 1);
  const getManifest: Registry['getManifest'] = async (repository, reference, accept) => {
    const content = await registry.getManifest(repository, reference, accept);
    const key = `${repository}@${content.digest}`;
    const now = options.now();
    const last = recent.get(key);
    if (last === undefined || now - last >= throttleMs) {
      recent.set(key, now);
      options.browse.markPulled(repository, content.digest, now, throttleMs).catch(options.onError);
    }
    return content;
  };
  // A proxy, not a spread: the registry may be a class instance (a mirror decorator) whose
  // methods live on its prototype.
  return new Proxy(registry, {
    get: (target, property, receiver) => (property === 'getManifest' ? getManifest : Reflect.get(target, property, receiver)),
  });
}
