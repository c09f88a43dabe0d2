import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../errors.js';
import { runExclusive, type LeaseOps } from '../lib/exclusive.js';
import { isGoneFromThisHost, processIdentity } from '../lib/process-identity.js';
import { parseDigest } from '../oci/digest.js';
import type { BlobContent, BlobInfo } from '../registry/registry.js';
import type { ByteRange } from '../storage/driver.js';
import type { MetadataStore } from '../metadata/store.js';
import { blobKey } from '../storage/keys.js';
import { TOUCH_GRANULARITY_MS, type MirrorDeps } from './deps.js';
import { InflightBlob } from './inflight-blob.js';
import { hasCode, toRegistryError } from './map-error.js';
import type { MirrorRoute } from './routing.js';
import { SingleFlight } from './single-flight.js';
import { UpstreamError } from './upstream-error.js';

/** Passes a download's bytes through (a bandwidth limit, a byte count). */
export type SourceWrap = (source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>;

export interface BlobCache {
  stat(route: MirrorRoute, digest: string): Promise<BlobInfo>;
  read(route: MirrorRoute, digest: string, options: { range?: ByteRange; allowRedirect?: boolean }): Promise<BlobContent>;
  /**
   * Makes sure the blob is cached for the route's repository, downloading it (through `wrap`)
   * unless it is held already; resolves once it is stored and linked. `fetched`: bytes came from
   * the upstream for this call.
   */
  fetch(route: MirrorRoute, digest: string, wrap?: SourceWrap): Promise<{ fetched: boolean; size: number }>;
}

/** How long a fetch lease lasts unrenewed: how long a crashed instance's fetch holds the others back. */
const FETCH_LEASE_MS = 30_000;
const FETCH_LEASE_PREFIX = 'mirror-fetch:';
/** How often an instance waiting for another's fetch looks for the cached blob. */
const FETCH_POLL_MS = 200;
/** How long it waits at most before fetching itself (the blob is then downloaded twice). */
const FETCH_WAIT_MS = 120_000;

/**
 * Releases the fetch leases of processes of this host that are gone (killed mid-download): a
 * restarted instance need not wait out their time to live before pulling those blobs. Returns how
 * many it released. Other hosts' leases expire as before.
 */
export async function releaseOrphanedFetchLeases(metadata: MetadataStore): Promise<number> {
  let released = 0;
  for (const lease of await metadata.leases.withPrefix(FETCH_LEASE_PREFIX)) {
    if (!isGoneFromThisHost(lease.holder)) continue;
    await metadata.leases.release(lease.name, lease.holder);
    released += 1;
  }
  return released;
}

interface Download {
  blob: InflightBlob;
  /** The repositories to link the blob to once it is verified. */
  routes: Map<string, MirrorRoute>;
  /** Settles once the blob is stored and linked, or dropped. */
  kept: Promise<void>;
}

/**
 * Blobs of mirror repositories: served from the cache when there, else downloaded once (however
 * many clients ask at the same time) and streamed to every client while it is spooled; the
 * verified spool then becomes an ordinary content-addressed blob linked to the mirror repository.
 *
 * Across instances, a lease in the database (`mirror-fetch:<upstream>:<digest>`) names the one
 * instance that downloads a blob; the others wait until it is cached and serve it from there. An
 * instance that waited FETCH_WAIT_MS, or whose holder crashed (the lease expires, or an instance
 * restarting on that host releases it), fetches itself:
 * at worst twice, never corrupt (both write the same verified, content-addressed bytes).
 */
export function blobCache(deps: MirrorDeps): BlobCache {
  const { inner, metadata, storage, observer } = deps;
  /** Downloads in flight, by upstream and digest; each also collects the repositories to link. */
  const inflight = new Map<string, Download>();
  const starting = new SingleFlight<string, InflightBlob | 'cached'>();
  const holder = `${processIdentity()}:${randomUUID()}`;
  const heads = new SingleFlight<string, number>();
  /**
   * The fetch lease commits without waiting for the disk (dialect.ts, relaxed): it is on the path
   * to a first pull's first byte, and a lease a crash takes back costs at most a second download
   * of the blob, the worst case anyway. Other instances see it as soon as it commits.
   */
  const relaxed = <T>(work: (leases: LeaseOps) => Promise<T>) => metadata.transaction((tx) => work(tx.leases), { relaxed: true });
  const fetchLeases: LeaseOps = {
    acquire: (name, who, ttlMs, now) => relaxed((leases) => leases.acquire(name, who, ttlMs, now)),
    renew: (name, who, ttlMs, now) => relaxed((leases) => leases.renew(name, who, ttlMs, now)),
    release: (name, who) => relaxed((leases) => leases.release(name, who)),
  };

  const unknown = (route: MirrorRoute, digest: string) => () =>
    new RegistryError('BLOB_UNKNOWN', `blob unknown to upstream ${route.upstream.name}`, { detail: { digest, upstream: route.upstream.name } });

  async function cached(route: MirrorRoute, digest: string): Promise<BlobInfo | undefined> {
    try {
      return await inner.statBlob(route.cacheRepository, digest);
    } catch (error) {
      if (hasCode(error, 'BLOB_UNKNOWN')) return undefined;
      throw error;
    }
  }

  /**
   * The bytes may already be here (a private push, another mirror repository): when a cached
   * manifest of this repository references the digest, the upstream vouched for it — link it.
   */
  async function adopt(route: MirrorRoute, digest: string): Promise<BlobInfo | undefined> {
    const known = await metadata.blobs.get(digest);
    if (!known) return undefined;
    if (!(await metadata.mirrorCache.referencedByManifest(route.cacheRepository, digest))) return undefined;
    const size = Number(known.size);
    // Only while the bytes are live: GC or eviction may be deleting them right now.
    if (!(await deps.content.reference(digest, (tx) => link(tx, [route], digest, size)))) return undefined;
    deps.onCached();
    return { digest, size };
  }

  /** Cached for this repository, or adopted into it (another repository's fetch stored it). */
  async function storedHere(route: MirrorRoute, digest: string): Promise<boolean> {
    return (await cached(route, digest)) !== undefined || (await adopt(route, digest)) !== undefined;
  }

  async function link(tx: MetadataStore, routes: MirrorRoute[], digest: string, size: number): Promise<true> {
    const now = deps.now();
    for (const route of routes) {
      await tx.repositories.ensure(route.cacheRepository, now);
      await tx.blobs.link(route.cacheRepository, { digest, size }, now);
      await tx.mirrorCache.record({ repository: route.cacheRepository, digest, kind: 'blob', size, upstream: route.upstream.name }, now);
    }
    return true;
  }

  function touch(route: MirrorRoute, digest: string): void {
    metadata.mirrorCache.touch(route.cacheRepository, digest, deps.now(), TOUCH_GRANULARITY_MS).catch((error: unknown) => {
      deps.log.warn({ err: error, repository: route.cacheRepository, digest }, 'recording a mirror pull failed');
    });
  }

  async function headUpstream(route: MirrorRoute, digest: string): Promise<number> {
    const { client } = route.upstream;
    const response = await client.request({ method: 'HEAD', path: `/v2/${route.upstreamRepository}/blobs/${digest}`, repository: route.upstreamRepository });
    await response.discard();
    if (response.status === 404) throw new UpstreamError('not-found', client.name, `blob ${digest} not found upstream`);
    const size = Number(response.headers['content-length']);
    if (!Number.isSafeInteger(size) || size < 0) throw new UpstreamError('invalid', client.name, `upstream ${client.name} sent no size for blob ${digest}`);
    return size;
  }

  /**
   * This instance's download of `digest` under the fetch lease, or 'cached' when another instance
   * fetched it meanwhile. The lease is held (and renewed) until the blob is stored and linked.
   */
  async function fetchOnce(route: MirrorRoute, digest: string, wrap?: SourceWrap): Promise<InflightBlob | 'cached'> {
    const lease = `${FETCH_LEASE_PREFIX}${route.upstream.name}:${digest}`;
    const deadline = deps.now() + FETCH_WAIT_MS;
    for (;;) {
      const outcome = await new Promise<InflightBlob | 'cached' | 'held'>((resolve, reject) => {
        const leased = runExclusive(fetchLeases, lease, { holder, ttlMs: FETCH_LEASE_MS, now: deps.now, onRenewError: (error) => deps.log.warn({ err: error, digest }, 'renewing a mirror fetch lease failed') }, async () => {
          // The previous holder may have finished just before this one took the lease.
          if (await storedHere(route, digest)) return resolve('cached');
          const download = await startDownload(route, digest, wrap);
          resolve(download.blob);
          await download.kept;
        });
        leased.then((result) => result.ran || resolve('held'), reject);
      });
      if (outcome !== 'held') return outcome;
      if (deps.now() >= deadline) {
        deps.log.warn({ upstream: route.upstream.name, digest }, 'waited too long for another instance to fetch a blob, fetching it too');
        return (await startDownload(route, digest, wrap)).blob;
      }
      await sleep(FETCH_POLL_MS);
      if (await storedHere(route, digest)) return 'cached';
    }
  }

  async function startDownload(route: MirrorRoute, digest: string, wrap?: SourceWrap): Promise<Download> {
    const { client } = route.upstream;
    const response = await client.request({ method: 'GET', path: `/v2/${route.upstreamRepository}/blobs/${digest}`, repository: route.upstreamRepository });
    if (response.status === 404) {
      await response.discard();
      throw new UpstreamError('not-found', client.name, `blob ${digest} not found upstream`);
    }
    const size = Number(response.headers['content-length']);
    if (!Number.isSafeInteger(size) || size < 0) {
      response.body.destroy();
      throw new UpstreamError('invalid', client.name, `upstream ${client.name} sent blob ${digest} without a Content-Length`);
    }
    const blob = await InflightBlob.start({
      digest: parseDigest(digest),
      size,
      spoolPath: join(deps.spoolDirectory, randomUUID()),
      ...(deps.fileModes ? { modes: deps.fileModes } : {}),
      // A wrapped body (replication's throttle) is an async iterable: a stream again, chunks as they are.
      source: wrap ? Readable.from(wrap(response.body), { objectMode: false }) : response.body,
      onBytes: (n) => observer.upstreamBytes(client.name, n),
    });
    const routes = new Map([[route.cacheRepository, route]]);
    const entry: Download = { blob, routes, kept: keepWhenVerified(route, digest, blob, routes) };
    inflight.set(flightKey(route, digest), entry);
    return entry;
  }

  /** Verified → stored and linked; rejected → dropped. Either way the spool goes. */
  async function keepWhenVerified(route: MirrorRoute, digest: string, blob: InflightBlob, routes: Map<string, MirrorRoute>): Promise<void> {
    const outcome = await blob.settled;
    try {
      if (outcome.ok) {
        const key = blobKey(blob.digest);
        // The spool becomes the blob (a rename on the filesystem store); other stores get a copy.
        const putBytes = async () => {
          if ((await storage.stat(key))?.size !== blob.size) await (storage.adopt ? storage.adopt(blob.spoolPath, key) : storage.write(key, createReadStream(blob.spoolPath)));
        };
        await deps.content.publish({ digest, size: blob.size }, putBytes, (tx) => link(tx, [...routes.values()], digest, blob.size));
        deps.onCached();
      } else {
        observer.upstreamError(route.upstream.name, 'invalid-content');
        deps.log.warn({ upstream: route.upstream.name, repository: route.upstreamRepository, digest, reason: outcome.error.message }, 'upstream blob rejected, not cached');
      }
    } catch (error) {
      deps.log.error({ err: error, upstream: route.upstream.name, digest }, 'storing a mirrored blob failed');
    } finally {
      inflight.delete(flightKey(route, digest));
      await blob.release();
    }
  }

  return {
    async stat(route, digest) {
      parseDigest(digest);
      const hit = await cached(route, digest);
      if (hit) return hit;
      const flying = inflight.get(flightKey(route, digest));
      if (flying) return { digest, size: flying.blob.size };
      const adopted = await adopt(route, digest);
      if (adopted) return adopted;
      try {
        const size = await heads.run(`${flightKey(route, digest)}@${route.upstreamRepository}`, () => headUpstream(route, digest));
        return { digest, size };
      } catch (error) {
        if (error instanceof UpstreamError && error.failure !== 'not-found') observer.upstreamError(route.upstream.name, error.failure);
        throw toRegistryError(error, unknown(route, digest));
      }
    },

    async read(route, digest, options) {
      parseDigest(digest);
      if ((await cached(route, digest)) ?? (await adopt(route, digest))) {
        observer.hit(route.upstream.name, 'blob');
        touch(route, digest);
        return inner.readBlob(route.cacheRepository, digest, options);
      }
      observer.miss(route.upstream.name, 'blob');
      let blob: InflightBlob;
      const flying = inflight.get(flightKey(route, digest));
      if (flying) {
        flying.routes.set(route.cacheRepository, route);
        blob = flying.blob;
      } else {
        let fetched: InflightBlob | 'cached';
        try {
          fetched = await starting.run(flightKey(route, digest), () => fetchOnce(route, digest));
        } catch (error) {
          if (error instanceof UpstreamError && error.failure !== 'not-found') observer.upstreamError(route.upstream.name, error.failure);
          throw toRegistryError(error, unknown(route, digest));
        }
        // Another instance fetched it: cached (and linked to this repository) now.
        if (fetched === 'cached') return inner.readBlob(route.cacheRepository, digest, options);
        blob = fetched;
        inflight.get(flightKey(route, digest))?.routes.set(route.cacheRepository, route);
      }
      if (blob.failure) {
        throw new RegistryError('UNAVAILABLE', `upstream ${route.upstream.name}: ${blob.failure.message}`, { status: 502, detail: { digest, upstream: route.upstream.name } });
      }
      const { range } = options;
      if (range && range.end > blob.size) throw new RegistryError('RANGE_INVALID', undefined, { headers: { 'Content-Range': `bytes */${blob.size}` } });
      let stream;
      try {
        stream = blob.reader(range);
      } catch {
        // Finished and handed to the cache between the lookup and now: serve the cached copy.
        return inner.readBlob(route.cacheRepository, digest, options);
      }
      return { digest, size: blob.size, stream, ...(range ? { range } : {}) };
    },

    async fetch(route, digest, wrap) {
      parseDigest(digest);
      const held = (await cached(route, digest)) ?? (await adopt(route, digest));
      if (held) return { fetched: false, size: held.size };
      let entry = inflight.get(flightKey(route, digest));
      let fetched = false;
      if (entry) entry.routes.set(route.cacheRepository, route);
      else {
        fetched = (await starting.run(flightKey(route, digest), () => fetchOnce(route, digest, wrap))) !== 'cached';
        entry = inflight.get(flightKey(route, digest));
        entry?.routes.set(route.cacheRepository, route);
      }
      if (entry) {
        const outcome = await entry.blob.settled;
        await entry.kept;
        if (!outcome.ok) throw new UpstreamError('invalid', route.upstream.name, `upstream ${route.upstream.name}: blob ${digest}: ${outcome.error.message}`);
      }
      const stored = await cached(route, digest);
      if (!stored) throw new RegistryError('UNAVAILABLE', `blob ${digest} from upstream ${route.upstream.name} could not be stored`, { detail: { digest } });
      return { fetched, size: stored.size };
    },
  };
}

const flightKey = (route: MirrorRoute, digest: string) => `${route.upstream.name} ${digest}`;
