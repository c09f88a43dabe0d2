import { RegistryError } from '../errors.js';
import type { ManifestContent } from '../registry/registry.js';
import type { BlobCache, SourceWrap } from './blob-cache.js';
import type { MirrorDeps } from './deps.js';
import { hasCode } from './map-error.js';
import type { ManifestCache } from './manifest-cache.js';
import { routeTo, type MirrorRoute, type MirrorRouter } from './routing.js';

/**
 * What pull rules (src/replication) ask of the mirror: the same cache, single-flight and storage
 * path as pulls through it, driven from the rule instead of a client.
 */
export interface MirrorSync {
  /** How `repository` of upstream `upstream` is reached and cached, or undefined when no upstream has that name. */
  route(upstream: string, repository: string): MirrorRoute | undefined;
  /** The manifest by digest, from the cache or fetched into it (`fetched`). */
  manifest(route: MirrorRoute, digest: string): Promise<{ content: ManifestContent; fetched: boolean }>;
  /** The blob cached for the route's repository, downloaded through `wrap` unless held. */
  blob(route: MirrorRoute, digest: string, wrap?: SourceWrap): Promise<{ fetched: boolean; size: number }>;
  /** Whether the cache holds the manifest (by digest) for the route's repository. */
  hasManifest(route: MirrorRoute, digest: string): Promise<boolean>;
  /** Whether the route's repository may serve the blob. */
  hasBlob(route: MirrorRoute, digest: string): Promise<boolean>;
  /** The digest the cached tag points at. */
  cachedTag(route: MirrorRoute, tag: string): Promise<string | undefined>;
  /** Points the cached tag at `digest` and marks it checked now (pulls trust it for the TTL). */
  tag(route: MirrorRoute, tag: string, digest: string): Promise<void>;
}

export function mirrorSync(deps: MirrorDeps, router: MirrorRouter, blobs: BlobCache, manifests: ManifestCache): MirrorSync {
  const { inner, metadata } = deps;
  return {
    route(upstream, repository) {
      const found = router.upstreams.find((u) => u.name === upstream);
      return found && routeTo(found, repository);
    },
    async manifest(route, digest) {
      const content = await manifests.get(route, digest, undefined);
      // Legacy types (schema 1) pass through the cache without being stored: nothing to keep.
      if (!(await this.hasManifest(route, digest))) {
        throw new RegistryError('MANIFEST_INVALID', `${route.upstreamRepository}@${digest} is of a type Wharf does not store (${content.mediaType})`, { detail: { digest } });
      }
      return { content, fetched: content.mirror?.cache === 'miss' };
    },
    blob: (route, digest, wrap) => blobs.fetch(route, digest, wrap),
    async hasManifest(route, digest) {
      try {
        await inner.statManifest(route.cacheRepository, digest);
        return true;
      } catch (error) {
        if (hasCode(error, 'MANIFEST_UNKNOWN')) return false;
        throw error;
      }
    },
    async hasBlob(route, digest) {
      return (await metadata.blobs.findInRepository(route.cacheRepository, digest)) !== undefined;
    },
    cachedTag: (route, tag) => metadata.tags.resolve(route.cacheRepository, tag),
    async tag(route, tag, digest) {
      await metadata.transaction(async (tx) => {
        const at = deps.now();
        await tx.tags.set(route.cacheRepository, tag, digest, at);
        await tx.mirrorCache.markTagChecked(route.cacheRepository, tag, at);
      });
    },
  };
}
