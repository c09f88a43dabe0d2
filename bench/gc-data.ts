/**
 * Registry content for GC benchmarks and crash tests, written straight through the metadata
 * store and the storage driver (no HTTP): `manifests` images of `blobsPerManifest` blobs each
 * (a config and layers, all distinct), spread over `repositories` repositories of project
 * `bench`; half the images of each repository untagged (garbage once the untagged grace is past), all of it
 * touched `ageMs` ago so no grace period protects it.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { settleAll } from '../src/lib/settle-all.js';
import { openDatabase, type DatabaseOptions, type Db } from '../src/metadata/database.js';
import { parseDigest } from '../src/oci/digest.js';
import type { StorageDriver } from '../src/storage/driver.js';
import { blobKey } from '../src/storage/keys.js';

export interface ContentSpec {
  repositories: number;
  manifests: number;
  blobsPerManifest: number;
  blobBytes: number;
  ageMs: number;
  /** Store writes in flight. */
  concurrency?: number;
  /** Called now and then with how many objects are written. */
  progress?: (written: number, total: number) => void;
}

export interface BenchImage {
  repository: string;
  /** Set for the tagged half. */
  tag: string | null;
  digest: string;
  mediaType: string;
  manifest: Buffer;
  /** A blob's bytes are `size` bytes filled with `seed` (unique per blob). */
  blobs: Array<{ digest: string; size: number; seed: string }>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The images, deterministic for a spec (contents are unique per image and blob). */
export function benchImages(spec: ContentSpec): BenchImage[] {
  const images: BenchImage[] = [];
  for (let m = 0; m < spec.manifests; m++) {
    const blobs = Array.from({ length: spec.blobsPerManifest }, (_, j) => {
      const seed = `${m}:${j}:`;
      const bytes = Buffer.alloc(spec.blobBytes, seed);
      return { digest: sha256(bytes), size: bytes.length, seed };
    });
    const [config, ...layers] = blobs;
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config!.digest, size: config!.size },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
      }),
    );
    // Every repository gets tagged and untagged images, alternately.
    const tagged = Math.floor(m / spec.repositories) % 2 === 0;
    images.push({ repository: `bench/r${m % spec.repositories}`, tag: tagged ? `t${m}` : null, digest: sha256(manifest), mediaType: OCI_MANIFEST, manifest, blobs });
  }
  return images;
}

async function insertChunks<T>(rows: T[], size: number, insert: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

/** Writes `images` (rows in one transaction, then the bytes): the registry as if pushed `ageMs` ago. */
export async function writeImages(db: Db, storage: StorageDriver, images: BenchImage[], spec: Pick<ContentSpec, 'ageMs' | 'concurrency' | 'progress'>): Promise<void> {
  const at = Date.now() - spec.ageMs;
  await db.transaction().execute(async (tx) => {
    const repositories = [...new Set(images.map((i) => i.repository))];
    await insertChunks(repositories, 500, (chunk) => tx.insertInto('repositories').values(chunk.map((name) => ({ name, created_at: at }))).onConflict((c) => c.doNothing()).execute());
    const blobs = new Map<string, number>();
    for (const image of images) {
      blobs.set(image.digest, image.manifest.length);
      for (const b of image.blobs) blobs.set(b.digest, b.size);
    }
    await insertChunks([...blobs], 500, (chunk) =>
      tx.insertInto('blobs').values(chunk.map(([digest, size]) => ({ digest, size, created_at: at, touched_at: at, state: 'live' as const }))).execute(),
    );
    await insertChunks(images.flatMap((i) => i.blobs.map((b) => ({ repository: i.repository, digest: b.digest, created_at: at, touched_at: at }))), 500, (chunk) =>
      tx.insertInto('repository_blobs').values(chunk).execute(),
    );
    await insertChunks(images, 500, (chunk) =>
      tx
        .insertInto('manifests')
        .values(chunk.map((i) => ({ repository: i.repository, digest: i.digest, media_type: i.mediaType, size: i.manifest.length, artifact_type: null, subject: null, config_digest: i.blobs[0]!.digest, annotations: null, created_at: at, touched_at: at })))
        .execute(),
    );
    await insertChunks(images.flatMap((i) => i.blobs.map((b) => ({ repository: i.repository, parent: i.digest, child: b.digest, kind: 'blob' as const }))), 500, (chunk) =>
      tx.insertInto('manifest_references').values(chunk).execute(),
    );
    await insertChunks(images.filter((i) => i.tag !== null), 500, (chunk) =>
      tx.insertInto('tags').values(chunk.map((i) => ({ repository: i.repository, name: i.tag!, digest: i.digest, updated_at: at }))).execute(),
    );
    await insertChunks([...blobs], 500, (chunk) => tx.insertInto('project_blobs').values(chunk.map(([digest, size]) => ({ project: 'bench', digest, size }))).execute());
    const total = [...blobs.values()].reduce((a, b) => a + b, 0);
    await tx.insertInto('project_usage').values({ project: 'bench', used_bytes: total, quota_bytes: null, warned_at: null }).onConflict((c) => c.column('project').doUpdateSet({ used_bytes: sql<number>`project_usage.used_bytes + ${total}` })).execute();
    await tx.insertInto('projects').values({ name: 'bench', public: 1, created_at: at }).onConflict((c) => c.doNothing()).execute();
  });
  const contents = new Map<string, () => Buffer>();
  for (const image of images) {
    contents.set(image.digest, () => image.manifest);
    for (const b of image.blobs) contents.set(b.digest, () => Buffer.alloc(b.size, b.seed));
  }
  const unique = [...contents];
  let written = 0;
  const results = await settleAll(unique, spec.concurrency ?? 32, async ([digest, bytes]) => {
    await storage.write(blobKey(parseDigest(digest)), bytes());
    if (++written % 1000 === 0) spec.progress?.(written, unique.length);
  });
  const failed = results.find((r) => r.status === 'rejected');
  if (failed && failed.status === 'rejected') throw failed.reason;
}

/**
 * A SQLite data directory for crash and fault tests: the images of `spec` written into
 * `<dataDir>/wharf.db` and `storage`, which is closed afterwards, as is the database.
 */
export function seedSqlite(dataDir: string, storage: StorageDriver, spec: ContentSpec): Promise<BenchImage[]> {
  return seedDatabase({ driver: 'sqlite', path: `${dataDir}/wharf.db` }, storage, spec);
}

/** The images of `spec` written into the database `options` opens (migrated first) and `storage`; both are closed afterwards. */
export async function seedDatabase(options: DatabaseOptions, storage: StorageDriver, spec: ContentSpec): Promise<BenchImage[]> {
  const images = benchImages(spec);
  const db = await openDatabase(options);
  try {
    await writeImages(db, storage, images, spec);
  } finally {
    await db.destroy();
    await storage.close();
  }
  return images;
}
