import { RegistryError } from '../errors.js';
import { digestOf, looksLikeDigest, parseDigest } from '../oci/digest.js';
import { parseManifest, type ParsedManifest } from '../oci/manifest.js';
import { acceptsMediaType, bareMediaType, MediaType } from '../oci/media-types.js';
import { parseTag } from '../oci/names.js';
import { readSmall } from '../lib/streams.js';
import type { ManifestContent } from '../registry/registry.js';
import { blobKey } from '../storage/keys.js';
import { manifestEntry } from '../metadata/manifests.js';
import { TOUCH_GRANULARITY_MS, type MirrorDeps } from './deps.js';
import { hasCode, toRegistryError } from './map-error.js';
import type { MirrorRoute } from './routing.js';
import { SingleFlight } from './single-flight.js';
import { UpstreamError } from './upstream-error.js';

/** What the mirror asks upstreams for by tag, so the cached tag is the same whoever asked first. */
export const FULL_ACCEPT = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest].join(', ');

export interface ManifestCache {
  get(route: MirrorRoute, reference: string, accept: Set<string> | undefined): Promise<ManifestContent>;
}

/**
 * Manifests of mirror repositories. By digest they are immutable: cached for good. By tag they
 * are trusted for the upstream's TTL, then revalidated with a HEAD (digest compare; Docker Hub
 * does not count HEADs against the pull limit). When the upstream cannot answer, the cached
 * manifest is served however old, with a warning.
 */
export function manifestCache(deps: MirrorDeps): ManifestCache {
  const { inner, metadata, storage, observer, log } = deps;
  const fetches = new SingleFlight<string, ManifestContent>();

  const unknown = (route: MirrorRoute, reference: string) => () =>
    new RegistryError('MANIFEST_UNKNOWN', `manifest unknown to upstream ${route.upstream.name}`, {
      detail: { name: route.cacheRepository, reference, upstream: route.upstream.name },
    });

  function failed(route: MirrorRoute, reference: string, error: unknown): unknown {
    if (error instanceof UpstreamError && error.failure !== 'not-found') observer.upstreamError(route.upstream.name, error.failure);
    return toRegistryError(error, unknown(route, reference));
  }

  /** The cached manifest by digest, or undefined. */
  async function local(route: MirrorRoute, digest: string): Promise<ManifestContent | undefined> {
    try {
      return await inner.getManifest(route.cacheRepository, digest);
    } catch (error) {
      if (hasCode(error, 'MANIFEST_UNKNOWN')) return undefined;
      throw error;
    }
  }

  function hit(route: MirrorRoute, content: ManifestContent): ManifestContent {
    observer.hit(route.upstream.name, 'manifest');
    metadata.mirrorCache.touch(route.cacheRepository, content.digest, deps.now(), TOUCH_GRANULARITY_MS).catch((error: unknown) => {
      log.warn({ err: error, repository: route.cacheRepository }, 'recording a mirror pull failed');
    });
    return { ...content, mirror: { upstream: route.upstream.name, cache: 'hit' } };
  }

  async function fetchUpstream(route: MirrorRoute, reference: string, accept: string): Promise<ManifestContent> {
    return fetches.run(`${route.upstream.name} ${route.upstreamRepository} ${reference} ${accept}`, async () => {
      const { client } = route.upstream;
      const response = await client.request({
        method: 'GET',
        path: `/v2/${route.upstreamRepository}/manifests/${reference}`,
        repository: route.upstreamRepository,
        headers: { accept },
      });
      if (response.status === 404) {
        await response.discard();
        throw new UpstreamError('not-found', client.name, 'manifest not found upstream');
      }
      const bytes = await readSmall(response.body, deps.manifestMaxBytes, () => new Error('manifest too large')).catch((error: unknown) => {
        throw new UpstreamError('invalid', client.name, `upstream ${client.name}: reading the manifest failed: ${(error as Error).message}`);
      });
      observer.upstreamBytes(client.name, bytes.length);
      const expected = looksLikeDigest(reference) ? parseDigest(reference) : undefined;
      const digest = digestOf(bytes, expected?.algorithm ?? 'sha256').value;
      const claimed = response.headers['docker-content-digest'];
      if ((expected && expected.value !== digest) || (!expected && typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest)) {
        throw new UpstreamError('invalid', client.name, `upstream ${client.name} sent a manifest whose digest ${digest} is not ${expected?.value ?? claimed}`);
      }
      const mediaType = bareMediaType(response.headers['content-type']) ?? mediaTypeOf(bytes);
      return { digest, mediaType, size: bytes.length, bytes };
    });
  }

  /** Stores fetched content (and moves the tag) unless it is something the registry cannot hold. */
  async function keep(route: MirrorRoute, content: ManifestContent, tag: string | undefined): Promise<void> {
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(content.bytes, content.mediaType);
    } catch (error) {
      // Schema 1 and other legacy types pass through without being cached.
      log.warn({ upstream: route.upstream.name, repository: route.upstreamRepository, mediaType: content.mediaType, reason: (error as Error).message }, 'upstream manifest passed through uncached');
      return;
    }
    const key = blobKey(parseDigest(content.digest));
    const putBytes = async () => {
      if ((await storage.stat(key))?.size !== content.size) await storage.write(key, content.bytes);
    };
    const repository = route.cacheRepository;
    await deps.content.publish({ digest: content.digest, size: content.size }, putBytes, async (tx) => {
      const now = deps.now();
      await tx.repositories.ensure(repository, now);
      await tx.manifests.add(manifestEntry(repository, content.digest, content.size, parsed, now));
      await tx.mirrorCache.record({ repository, digest: content.digest, kind: 'manifest', size: content.size, upstream: route.upstream.name }, now);
      if (tag) {
        await tx.tags.set(repository, tag, content.digest, now);
        await tx.mirrorCache.markTagChecked(repository, tag, now);
      }
    });
    deps.onCached();
  }

  /** Fetches, caches and returns; when the client cannot take what the tag holds, asks again with its Accept. */
  async function miss(route: MirrorRoute, reference: string, tag: string | undefined, accept: Set<string> | undefined): Promise<ManifestContent> {
    observer.miss(route.upstream.name, 'manifest');
    try {
      const served = { upstream: route.upstream.name, cache: 'miss' as const };
      const content = await fetchUpstream(route, reference, tag ? FULL_ACCEPT : acceptHeader(accept));
      await keep(route, content, tag);
      if (!tag || acceptable(accept, content.mediaType)) return { ...content, mirror: served };
      const negotiated = await fetchUpstream(route, reference, acceptHeader(accept));
      await keep(route, negotiated, undefined);
      return { ...negotiated, mirror: served };
    } catch (error) {
      throw failed(route, reference, error);
    }
  }

  async function byTag(route: MirrorRoute, tag: string, accept: Set<string> | undefined): Promise<ManifestContent> {
    const repository = route.cacheRepository;
    const digest = await metadata.tags.resolve(repository, tag);
    if (!digest) return miss(route, tag, tag, accept);
    const cachedContent = await local(route, digest);
    if (!cachedContent) return miss(route, tag, tag, accept);
    const serve = async (content: ManifestContent) =>
      acceptable(accept, content.mediaType) ? hit(route, content) : miss(route, tag, undefined, accept);

    const checkedAt = await metadata.mirrorCache.tagCheckedAt(repository, tag);
    if (checkedAt !== undefined && deps.now() - checkedAt < route.upstream.ttlSeconds * 1000) return serve(cachedContent);

    let current: string | undefined;
    try {
      const response = await route.upstream.client.request({
        method: 'HEAD',
        path: `/v2/${route.upstreamRepository}/manifests/${tag}`,
        repository: route.upstreamRepository,
        headers: { accept: FULL_ACCEPT },
      });
      await response.discard();
      if (response.status === 404) throw new UpstreamError('not-found', route.upstream.name, 'tag not found upstream');
      const header = response.headers['docker-content-digest'];
      current = typeof header === 'string' ? header : undefined;
    } catch (error) {
      if (error instanceof UpstreamError && error.transient) {
        observer.upstreamError(route.upstream.name, error.failure);
        log.warn({ upstream: route.upstream.name, repository, tag, digest, checkedAt, reason: error.message }, 'upstream unavailable, serving stale manifest');
        return serve(cachedContent);
      }
      throw failed(route, tag, error);
    }
    if (current === digest) {
      await metadata.mirrorCache.markTagChecked(repository, tag, deps.now());
      return serve(cachedContent);
    }
    // The tag moved (or the upstream does not say where it points): fetch it again.
    try {
      return await miss(route, tag, tag, accept);
    } catch (error) {
      if (hasCode(error, 'UNAVAILABLE', 'TOOMANYREQUESTS')) {
        log.warn({ upstream: route.upstream.name, repository, tag, digest }, 'upstream unavailable, serving stale manifest');
        return serve(cachedContent);
      }
      throw error;
    }
  }

  return {
    async get(route, reference, accept) {
      if (looksLikeDigest(reference)) {
        const cachedContent = await local(route, parseDigest(reference).value);
        return cachedContent ? hit(route, cachedContent) : miss(route, reference, undefined, accept);
      }
      return byTag(route, parseTag(reference), accept);
    },
  };
}

function acceptable(accept: Set<string> | undefined, mediaType: string): boolean {
  return !accept || acceptsMediaType(accept, mediaType);
}

function acceptHeader(accept: Set<string> | undefined): string {
  return accept && accept.size > 0 ? [...accept].join(', ') : FULL_ACCEPT;
}

function mediaTypeOf(bytes: Buffer): string {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    if (typeof json.mediaType === 'string') return json.mediaType;
  } catch {
    // not JSON: the caller's parse reports it
  }
  return MediaType.ociManifest;
}
