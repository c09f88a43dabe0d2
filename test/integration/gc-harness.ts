/**
 * An in-process registry + GC over a real database (SQLite file or a fresh PostgreSQL database)
 * and a real blob store (filesystem, or Ceph RGW), with hooks that pause chosen operations, so a
 * test can force one exact interleaving of a push and a GC run.
 */
import { Readable } from 'node:stream';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { gcRunner, type GcRunner } from '../../src/gc/runner.js';
import { noTagProtection, type TagProtection } from '../../src/gc/tag-protection.js';
import { openDatabase, type Db } from '../../src/metadata/database.js';
import { metadataStore, type MetadataStore } from '../../src/metadata/store.js';
import { contentLifecycle } from '../../src/registry/content-lifecycle.js';
import type { ContentLifecycle } from '../../src/registry/content.js';
import { createRegistry } from '../../src/registry/create-registry.js';
import { placementJournal, type PlacementJournal } from '../../src/registry/placement-journal.js';
import type { UsageGuard } from '../../src/registry/deps.js';
import type { Registry } from '../../src/registry/registry.js';
import { findStaleUploads } from '../../src/registry/upload-purge.js';
import { checkedDriver } from '../../src/storage/checked-driver.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { filesystemDriver } from '../../src/storage/fs-driver.js';
import { s3Driver } from '../../src/storage/s3-driver.js';
import type { Image, Index } from '../fixtures/images.js';
import { makeTempDir } from '../fixtures/paths.js';
import { freshDatabase, postgresSkipReason } from '../fixtures/postgres.js';
import { s3SkipReason, s3TestEnv, uniquePrefix } from '../fixtures/s3.js';

export type Dialect = 'sqlite' | 'postgres';
export const dialects: Array<{ name: Dialect; skip?: string }> = [
  { name: 'sqlite' },
  { name: 'postgres', ...(postgresSkipReason() ? { skip: postgresSkipReason() } : {}) },
];
export const stores: Array<{ name: 'filesystem' | 's3'; skip?: string }> = [
  { name: 'filesystem' },
  { name: 's3', ...(s3SkipReason() ? { skip: s3SkipReason() } : {}) },
];

/**
 * A point where an operation waits until the test lets it go (or 15 s pass: a test that failed
 * before opening it must not hang its cleanup).
 */
export class Gate {
  private openGate!: () => void;
  private arrive!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.openGate = resolve));
  /** Resolves when the paused operation arrives at the gate. */
  readonly reached = new Promise<void>((resolve) => (this.arrive = resolve));
  async pass(): Promise<void> {
    this.arrive();
    await Promise.race([this.opened, sleep(15_000)]);
  }
  open(): void {
    this.openGate();
  }
}

/** Storage calls by name; a hook may pause (await a gate) before the call goes through. */
export type StorageHook = (operation: keyof StorageDriver, key: string) => Promise<void> | void;
/** Calls of transaction sub-stores by `store.method` (e.g. `manifests.add`); may pause before them. */
export type TxHook = (call: string) => Promise<void> | void;

export interface Harness {
  /** The temp dir: `storage/` is the filesystem store's root. */
  dir: string;
  db: Db;
  /** The metadata as the registry sees it (transactions pass through `txHook`). */
  metadata: MetadataStore;
  storage: StorageDriver;
  content: ContentLifecycle;
  registry: Registry;
  /** The placement journal, with `options.journal`. */
  placements?: PlacementJournal;
  gc: GcRunner;
  clock: { offsetMs: number };
  /** Order of interesting events (`storage:delete:<digest>` and whatever tests add). */
  events: string[];
  setStorageHook(hook: StorageHook | undefined): void;
  setTxHook(hook: TxHook | undefined): void;
  /** Uploads every blob of an image and PUTs its manifest under `reference`. */
  push(repository: string, reference: string, image: Image | Index): Promise<void>;
  uploadBlob(repository: string, bytes: Buffer, digest: string): Promise<void>;
  /** Ages every touched/created/pulled time by `ms` (as if pushed that long ago). */
  age(ms: number): Promise<void>;
}

export interface HarnessOptions {
  store?: 'filesystem' | 's3';
  untaggedGraceHours?: number;
  graceSeconds?: number;
  protection?: TagProtection;
  usage?: UsageGuard;
  /** `gc.dutyCycle` (default 1, full speed). */
  dutyCycle?: number;
  /**
   * Keep the filesystem store's staging (a manifest PUT writes a temporary file early and places
   * it during its transaction). Off by default: then every object write is one hooked `write`.
   */
  staging?: boolean;
  /**
   * A manifest placement journal over the store (registry/placement-journal.ts; needs `staging`),
   * flushed with `syncPlaced` (default: the store's), journaling at most `maxUnflushed` entries.
   */
  journal?: { syncPlaced?: (keys: readonly string[]) => Promise<void>; maxUnflushed?: number };
}

function hooked(storage: StorageDriver, hook: () => StorageHook | undefined, events: string[], staging: boolean): StorageDriver {
  const wrap = <K extends 'delete' | 'stat' | 'write' | 'commitUpload'>(name: K, keyOf: (...args: Parameters<StorageDriver[K]>) => string) =>
    (async (...args: Parameters<StorageDriver[K]>) => {
      const key = keyOf(...args);
      await hook()?.(name, key);
      const result = await (storage[name] as (...a: unknown[]) => Promise<unknown>)(...args);
      events.push(`storage:${name}:${key.split('/').pop()}`);
      return result;
    }) as StorageDriver[K];
  const deleteMany = storage.deleteMany?.bind(storage);
  return {
    ...storage,
    ...(deleteMany
      ? {
          deleteMany: async (keys: readonly string[]) => {
            await deleteMany(keys);
            events.push(`storage:deleteMany:${keys.length}`);
          },
        }
      : {}),
    // Without staging, every write of an object is one `write` the hooks see, in the order
    // of publish's sequential path (reserve, write, the transaction).
    ...(staging ? {} : { stage: undefined }),
    delete: wrap('delete', (key) => key),
    stat: wrap('stat', (key) => key),
    write: wrap('write', (key) => key),
    commitUpload: wrap('commitUpload', (_id, key) => key),
  };
}

function hookedMetadata(metadata: MetadataStore, hook: () => TxHook | undefined): MetadataStore {
  const hooked = (name: string, store: object) =>
    new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          await hook()?.(`${name}.${String(property)}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  // A store's sub-stores are getters (built on first use), so it is wrapped, not copied.
  const withTransaction = (store: MetadataStore, hookStores: boolean): MetadataStore =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'transaction') {
          return ((work, options) => target.transaction((inner) => work(withTransaction(inner, true)), options)) satisfies MetadataStore['transaction'];
        }
        const value = Reflect.get(target, property) as unknown;
        return hookStores && typeof value === 'object' && value !== null ? hooked(String(property), value) : value;
      },
    });
  return withTransaction(metadata, false);
}

export async function harness(t: { after(fn: () => unknown): void }, dialect: Dialect, options: HarnessOptions = {}): Promise<Harness> {
  const dir = await makeTempDir('wharf-gc-');
  let db: Db;
  if (dialect === 'sqlite') {
    db = await openDatabase({ driver: 'sqlite', path: path.join(dir, 'wharf.db') });
    t.after(() => db.destroy());
  } else {
    const fresh = await freshDatabase(undefined, 'wharf_gc');
    db = await openDatabase({ driver: 'postgres', url: fresh.url, poolSize: 8 });
    t.after(async () => {
      await db.destroy();
      // pg's pool resolves end() before its sockets have said goodbye; a forced drop now would
      // kill them and fail whichever test runs next with an unhandled error.
      await sleep(300);
      await fresh.drop();
    });
  }
  let raw: StorageDriver;
  if (options.store === 's3') {
    const env = s3TestEnv()!;
    raw = s3Driver({ endpoint: env.endpoint, accessKey: env.accessKey, secretKey: env.secretKey, bucket: env.bucket, region: env.region, forcePathStyle: true, rootDirectory: `wharf-test/${uniquePrefix('gc')}` });
  } else {
    raw = filesystemDriver(path.join(dir, 'storage'));
  }
  t.after(() => raw.close());
  const events: string[] = [];
  let storageHook: StorageHook | undefined;
  let txHook: TxHook | undefined;
  const storage = hooked(checkedDriver(raw, { onError: () => undefined }), () => storageHook, events, options.staging ?? false);
  const clock = { offsetMs: 0 };
  const now = () => Date.now() + clock.offsetMs;
  const plain = metadataStore(db);
  const metadata = hookedMetadata(plain, () => txHook);
  const content = contentLifecycle({ metadata, storage, now, holder: 'test', leaseTtlMs: 5_000, settleTimeoutMs: 20_000 });
  const syncPlaced = options.journal && (options.journal.syncPlaced ?? storage.syncPlaced?.bind(storage));
  const placements = syncPlaced
    ? placementJournal({
        metadata,
        storage,
        syncPlaced,
        now,
        onError: (error) => events.push(`journal-error:${String(error)}`),
        onInconsistency: (message) => events.push(`inconsistency:${message}`),
        ...(options.journal?.maxUnflushed ? { maxUnflushed: options.journal.maxUnflushed } : {}),
      })
    : undefined;
  if (placements) t.after(() => placements.close());
  const registry = createRegistry({
    metadata,
    storage,
    content,
    ...(placements ? { placements } : {}),
    ...(options.usage ? { usage: options.usage } : {}),
    now,
    maxPageSize: 1000,
    manifestMaxBytes: 4 << 20,
    redirectTtlSeconds: 60,
    onInconsistency: (message, fields) => events.push(`inconsistency:${message}:${JSON.stringify(fields)}`),
  });
  const gc = gcRunner({
    metadata: plain,
    storage,
    content: contentLifecycle({ metadata: plain, storage, now, holder: 'test-gc', leaseTtlMs: 5_000 }),
    staleUploads: async function* (before) {
      for await (const upload of findStaleUploads({ metadata: plain, storage }, before)) yield upload.id;
    },
    now,
    holder: 'test-gc',
    settings: {
      graceMs: (options.graceSeconds ?? 3600) * 1000,
      untaggedGraceMs: (options.untaggedGraceHours ?? 0) * 3_600_000,
      uploadPurgeAfterMs: 24 * 3_600_000,
      leaseTtlMs: 5_000,
      dutyCycle: options.dutyCycle ?? 1,
    },
    protection: options.protection ?? noTagProtection,
    log: pino({ level: 'silent' }),
  });
  t.after(() => gc.idle());

  const uploadBlob = async (repository: string, bytes: Buffer, digest: string) => {
    await registry.uploadBlob(repository, digest, Readable.from([bytes]));
  };
  return {
    dir,
    db,
    metadata,
    storage,
    content,
    registry,
    ...(placements ? { placements } : {}),
    gc,
    clock,
    events,
    setStorageHook: (hook) => (storageHook = hook),
    setTxHook: (hook) => (txHook = hook),
    uploadBlob,
    async push(repository, reference, image) {
      for (const [digest, bytes] of image.blobs) await uploadBlob(repository, bytes, digest);
      if ('images' in image) for (const child of image.images) await registry.putManifest(repository, child.manifest.digest, child.manifest.bytes, child.manifest.mediaType);
      await registry.putManifest(repository, reference, image.manifest.bytes, image.manifest.mediaType);
    },
    async age(ms) {
      await db.updateTable('blobs').set((eb) => ({ touched_at: eb('touched_at', '-', ms), created_at: eb('created_at', '-', ms) })).execute();
      await db.updateTable('repository_blobs').set((eb) => ({ touched_at: eb('touched_at', '-', ms), created_at: eb('created_at', '-', ms) })).execute();
      await db.updateTable('manifests').set((eb) => ({ touched_at: eb('touched_at', '-', ms), created_at: eb('created_at', '-', ms) })).execute();
      await db.updateTable('manifests').set((eb) => ({ last_pulled_at: eb('last_pulled_at', '-', ms) })).where('last_pulled_at', 'is not', null).execute();
      await db.updateTable('tags').set((eb) => ({ updated_at: eb('updated_at', '-', ms) })).execute();
    },
  };
}

/** Polls `check` until it holds (bounded). */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}
