import { RegistryError } from '../errors.js';
import type { Page, Registry } from '../registry/registry.js';
import type { BlobCache } from './blob-cache.js';
import type { MirrorDeps } from './deps.js';
import type { ManifestCache } from './manifest-cache.js';
import { toRegistryError } from './map-error.js';
import { routeTo, type MirrorRoute, type MirrorRouter } from './routing.js';
import { UpstreamError } from './upstream-error.js';

const TAGS_LIMIT_BYTES = 16 << 20;

/**
 * The registry with mirrors: reads of mirror repositories go to the cache and upstream, writes to
 * them are refused; everything else is the private registry, untouched.
 */
export function mirrorRegistry(deps: MirrorDeps, router: MirrorRouter, blobs: BlobCache, manifests: ManifestCache): Registry {
  const { inner, metadata } = deps;

  /** Where a read goes: a proxy project, the default upstream (no such private repository), or nowhere. */
  async function routeOf(name: string): Promise<MirrorRoute | undefined> {
    const proxied = router.proxyRoute(name);
    if (proxied) return proxied;
    const fallback = router.defaultUpstream;
    if (fallback && !(await metadata.repositories.exists(name))) return routeTo(fallback, name);
    return undefined;
  }

  function refuseWrite(name: string): void {
    if (!router.isMirrorName(name)) return;
    throw new RegistryError('DENIED', `${name} is a read-only mirror repository; push to a private project instead`, { detail: { name } });
  }

  async function listTags(route: MirrorRoute, page: { n?: number; last?: string }): Promise<Page<string>> {
    const { client } = route.upstream;
    const query = new URLSearchParams();
    if (page.n !== undefined) query.set('n', String(page.n));
    if (page.last !== undefined) query.set('last', page.last);
    const qs = query.size > 0 ? `?${query}` : '';
    try {
      const response = await client.request({ method: 'GET', path: `/v2/${route.upstreamRepository}/tags/list${qs}`, repository: route.upstreamRepository });
      if (response.status === 404) {
        await response.discard();
        throw new UpstreamError('not-found', client.name, 'repository not found upstream');
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > TAGS_LIMIT_BYTES) throw new UpstreamError('invalid', client.name, `upstream ${client.name} sent a tag list larger than ${TAGS_LIMIT_BYTES} bytes`);
        chunks.push(chunk as Buffer);
      }
      const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tags?: unknown };
      const items = Array.isArray(json.tags) ? json.tags.filter((t): t is string => typeof t === 'string') : [];
      const more = typeof response.headers.link === 'string' && items.length > 0;
      return { items, ...(more ? { next: items[items.length - 1]! } : {}) };
    } catch (error) {
      if (error instanceof UpstreamError && error.transient) {
        deps.log.warn({ upstream: client.name, repository: route.cacheRepository, reason: error.message }, 'upstream unavailable, listing cached tags');
        return inner.listTags(route.cacheRepository, page);
      }
      if (error instanceof SyntaxError) throw new RegistryError('UNAVAILABLE', `upstream ${client.name} sent an invalid tag list`, { status: 502 });
      throw toRegistryError(error, () => new RegistryError('NAME_UNKNOWN', `repository unknown to upstream ${client.name}`, { detail: { name: route.cacheRepository } }));
    }
  }

  return {
    async statBlob(name, digest) {
      const route = await routeOf(name);
      if (!route) return inner.statBlob(name, digest);
      if (router.isMirrorName(name)) return blobs.stat(route, digest);
      try {
        return await blobs.stat(route, digest);
      } catch (error) {
        // A bare name may be a private repository being pushed for the first time: its clients
        // HEAD each blob before uploading, and must get a plain 404, not the upstream's 401/503.
        if (error instanceof RegistryError) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
        throw error;
      }
    },
    async readBlob(name, digest, options = {}) {
      const route = await routeOf(name);
      return route ? blobs.read(route, digest, options) : inner.readBlob(name, digest, options);
    },
    async statManifest(name, reference, accept) {
      const route = await routeOf(name);
      if (!route) return inner.statManifest(name, reference, accept);
      const { digest, mediaType, size } = await manifests.get(route, reference, accept);
      return { digest, mediaType, size };
    },
    async getManifest(name, reference, accept) {
      const route = await routeOf(name);
      return route ? manifests.get(route, reference, accept) : inner.getManifest(name, reference, accept);
    },
    async listTags(name, page) {
      const route = await routeOf(name);
      return route ? listTags(route, page) : inner.listTags(name, page);
    },
    async listReferrers(name, digest, artifactType) {
      const route = router.proxyRoute(name);
      return inner.listReferrers(route ? route.cacheRepository : name, digest, artifactType);
    },
    listRepositories: (page) => inner.listRepositories(page),

    async deleteBlob(name, digest, context) {
      refuseWrite(name);
      return inner.deleteBlob(name, digest, context);
    },
    async startUpload(name) {
      refuseWrite(name);
      return inner.startUpload(name);
    },
    async mountBlob(name, digest, from) {
      refuseWrite(name);
      // Mounting from a mirror repository links cached (verified) content into a private one.
      const route = from ? router.proxyRoute(from) : undefined;
      return inner.mountBlob(name, digest, route ? route.cacheRepository : from);
    },
    async uploadBlob(name, digest, body) {
      refuseWrite(name);
      return inner.uploadBlob(name, digest, body);
    },
    async appendUpload(name, id, body, range) {
      refuseWrite(name);
      return inner.appendUpload(name, id, body, range);
    },
    async uploadStatus(name, id) {
      refuseWrite(name);
      return inner.uploadStatus(name, id);
    },
    async finishUpload(name, id, digest, body, range) {
      refuseWrite(name);
      return inner.finishUpload(name, id, digest, body, range);
    },
    async cancelUpload(name, id) {
      refuseWrite(name);
      return inner.cancelUpload(name, id);
    },
    async putManifest(name, reference, body, contentType, context) {
      refuseWrite(name);
      return inner.putManifest(name, reference, body, contentType, context);
    },
    async deleteManifest(name, reference, context) {
      refuseWrite(name);
      return inner.deleteManifest(name, reference, context);
    },
  };
}

