import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeDirectory, privateModes, type FileModes } from '../lib/file-modes.js';
import { isAlive } from '../lib/process-identity.js';
import type { MetadataStore } from '../metadata/store.js';
import type { ContentLifecycle } from '../registry/content.js';
import type { Registry } from '../registry/registry.js';
import type { StorageDriver } from '../storage/driver.js';
import { blobCache, releaseOrphanedFetchLeases } from './blob-cache.js';
import type { MirrorLog } from './deps.js';
import { createEvictor } from './eviction.js';
import { manifestCache } from './manifest-cache.js';
import { mirrorRegistry } from './mirror-registry.js';
import { noopMirrorObserver, type MirrorObserver } from './observer.js';
import { MirrorRouter, type Upstream } from './routing.js';
import { mirrorSync, type MirrorSync } from './sync.js';
import { createUpstreamClient } from './upstream-client.js';

export interface UpstreamSettings {
  name: string;
  url: string;
  registry: string;
  username?: string;
  password?: string;
  ttlSeconds: number;
  default: boolean;
}

export interface MirrorOptions {
  inner: Registry;
  metadata: MetadataStore;
  storage: StorageDriver;
  content: ContentLifecycle;
  upstreams: readonly UpstreamSettings[];
  /** 0 or undefined: no limit. */
  cacheMaxBytes?: number;
  /** This process's spool directory; siblings named after dead process ids are removed. */
  spoolDirectory: string;
  /** Modes of the spool's directories and files (default owner-only). */
  fileModes?: FileModes;
  manifestMaxBytes: number;
  log: MirrorLog;
  observer?: MirrorObserver;
  now?: () => number;
  /** Circuit breaker per upstream (defaults: 5 failures, 10 s). */
  breaker?: { failureThreshold: number; cooldownMs: number };
}

export interface Mirror {
  /** The decorated registry: serve this instead of the private one. */
  registry: Registry;
  /** For the `/v2` `?ns=` hook: the mirror repository that serves `name` of registry `ns`. */
  resolveNamespace(ns: string, name: string): string | undefined;
  /** The cache as pull rules drive it (src/replication). */
  sync: MirrorSync;
  /** Resolves when no cache eviction is running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds the pull-through cache around `inner`. Empties the spool directory and releases the fetch
 * leases of ended processes of this host (leftovers of a crash).
 */
export async function createMirror(options: MirrorOptions): Promise<Mirror> {
  const now = options.now ?? Date.now;
  await rm(options.spoolDirectory, { recursive: true, force: true });
  await makeDirectory(options.spoolDirectory, options.fileModes ?? privateModes);
  await removeDeadSpools(dirname(options.spoolDirectory));
  const orphaned = await releaseOrphanedFetchLeases(options.metadata).catch((error: unknown) => {
    options.log.warn({ err: error }, 'releasing the fetch leases of ended processes failed (they expire by themselves)');
    return 0;
  });
  if (orphaned > 0) options.log.info({ leases: orphaned }, 'released mirror fetch leases of ended processes');
  const upstreams: Upstream[] = options.upstreams.map((settings) => ({
    name: settings.name,
    registry: settings.registry,
    ttlSeconds: settings.ttlSeconds,
    default: settings.default,
    client: createUpstreamClient({
      name: settings.name,
      url: settings.url,
      ...(settings.username !== undefined ? { username: settings.username } : {}),
      ...(settings.password !== undefined ? { password: settings.password } : {}),
      ...(options.breaker ? { breaker: options.breaker } : {}),
      now,
    }),
  }));
  const router = new MirrorRouter(upstreams);
  const evictor = createEvictor({ metadata: options.metadata, content: options.content, maxBytes: options.cacheMaxBytes ?? 0, now, log: options.log });
  const deps = {
    inner: options.inner,
    metadata: options.metadata,
    storage: options.storage,
    content: options.content,
    spoolDirectory: options.spoolDirectory,
    fileModes: options.fileModes ?? privateModes,
    manifestMaxBytes: options.manifestMaxBytes,
    now,
    log: options.log,
    observer: options.observer ?? noopMirrorObserver,
    onCached: () => evictor.schedule(),
  };
  const blobs = blobCache(deps);
  const manifests = manifestCache(deps);
  const registry = mirrorRegistry(deps, router, blobs, manifests);
  return {
    registry,
    resolveNamespace: (ns, name) => router.resolveNamespace(ns, name),
    sync: mirrorSync(deps, router, blobs, manifests),
    idle: () => evictor.idle(),
    async close() {
      await evictor.idle();
      for (const upstream of upstreams) upstream.client.close();
    },
  };
}

/** Spool directories are named by process id; a dead process's leftovers are partial downloads. */
async function removeDeadSpools(parent: string): Promise<void> {
  for (const entry of await readdir(parent).catch(() => [])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) continue;
    await rm(join(parent, entry), { recursive: true, force: true });
  }
}
