import type { ParsedManifest } from '../oci/manifest.js';
import { referrerArtifactType } from '../oci/manifest.js';
import type { Db } from './database.js';
import { isPostgres } from './dialect.js';
import { fastReads, type FastReads } from './fast-reads.js';
import { precompiled, precompiledWithList } from './precompiled.js';
import type { Database } from './schema.js';
import { sizesInRepository } from './digest-sizes.js';
import { holdDigest, releaseDigests, type UsageChange } from './project-usage.js';

export interface ManifestRecord {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  subject: string | null;
  configDigest: string | null;
  annotations: Record<string, string> | null;
  createdAt: number;
}

export interface ManifestReference {
  child: string;
  kind: 'blob' | 'manifest';
}

/** What storing `parsed` as `digest` in `repository` writes: its row and its references. */
export function manifestEntry(repository: string, digest: string, size: number, parsed: ParsedManifest, now: number) {
  const record: ManifestRecord = {
    repository,
    digest,
    mediaType: parsed.mediaType,
    size,
    artifactType: referrerArtifactType(parsed) ?? null,
    subject: parsed.subject?.digest ?? null,
    configDigest: parsed.config?.digest ?? null,
    annotations: parsed.annotations ?? null,
    createdAt: now,
  };
  const references: ManifestReference[] = [
    ...parsed.blobs.map((d) => ({ child: d.digest, kind: 'blob' as const })),
    ...parsed.manifests.map((d) => ({ child: d.digest, kind: 'manifest' as const })),
  ];
  return { record, references };
}

export interface ManifestStore {
  /**
   * Inserts the manifest and what it references, or refreshes it when it exists (a re-push:
   * `touched_at`, the untagged grace period's anchor); counts its bytes in the project's usage.
   * On PostgreSQL the row stays locked against GC until the transaction ends.
   */
  add(entry: { record: ManifestRecord; references: ManifestReference[] }): Promise<UsageChange | undefined>;
  get(repository: string, digest: string): Promise<ManifestRecord | undefined>;
  /** What a manifest GET or HEAD needs, by tag or by digest, in one query. */
  describe(repository: string, reference: { tag: string } | { digest: string }): Promise<{ digest: string; mediaType: string; size: number } | undefined>;
  /** The size of each of `digests` that is a manifest of `repository` (the others are absent). */
  sizes(repository: string, digests: readonly string[]): Promise<Map<string, number>>;
  /** Like `sizes`, and the manifests found stay locked against GC until the transaction ends. */
  lockSizes(repository: string, digests: readonly string[]): Promise<Map<string, number>>;
  /** Removes the manifest and its outgoing references; false when it did not exist. */
  remove(repository: string, digest: string): Promise<boolean>;
  /** Manifests of `repository` whose subject is `subject`, optionally of one artifact type. */
  referrers(repository: string, subject: string, artifactType?: string): Promise<ManifestRecord[]>;
  /** The digests of `repository`'s manifests whose subject is any of `subjects`. */
  referrerDigests(repository: string, subjects: string[]): Promise<string[]>;
  /** The child manifests (of indexes) among `parents` in `repository`. */
  children(repository: string, parents: string[]): Promise<string[]>;
  /** The manifests of `repository` that reference `child` (a blob or a manifest). */
  parents(repository: string, child: string): Promise<string[]>;
  /** The repositories holding manifest `digest`, oldest first. */
  holders(digest: string): Promise<Array<{ repository: string; mediaType: string }>>;
}


const columns = ['repository', 'digest', 'media_type', 'size', 'artifact_type', 'subject', 'config_digest', 'annotations', 'created_at'] as const;
type Row = Pick<Database['manifests'], (typeof columns)[number]>;

export const toManifestRecord = (row: Row): ManifestRecord => ({
  repository: row.repository,
  digest: row.digest,
  mediaType: row.media_type,
  size: Number(row.size),
  artifactType: row.artifact_type,
  subject: row.subject,
  configDigest: row.config_digest,
  annotations: row.annotations ? (JSON.parse(row.annotations) as Record<string, string>) : null,
  createdAt: Number(row.created_at),
});

type Key = { repository: string; digest: string };
const byTag = precompiled((db, v: { repository: string; tag: string }) =>
  db
    .selectFrom('tags as t')
    .innerJoin('manifests as m', (j) => j.onRef('m.repository', '=', 't.repository').onRef('m.digest', '=', 't.digest'))
    .select(['m.digest', 'm.media_type', 'm.size'])
    .where('t.repository', '=', v.repository)
    .where('t.name', '=', v.tag),
);
const byDigest = precompiled((db, v: Key) => db.selectFrom('manifests').select(['digest', 'media_type', 'size']).where('repository', '=', v.repository).where('digest', '=', v.digest));
const one = precompiled((db, v: Key) => db.selectFrom('manifests').select(columns).where('repository', '=', v.repository).where('digest', '=', v.digest));
const insertManifest = precompiled((db, v: Row & { touched_at: number }) =>
  db
    .insertInto('manifests')
    .values({
      repository: v.repository,
      digest: v.digest,
      media_type: v.media_type,
      size: v.size,
      artifact_type: v.artifact_type,
      subject: v.subject,
      config_digest: v.config_digest,
      annotations: v.annotations,
      created_at: v.created_at,
      touched_at: v.touched_at,
    })
    .onConflict((c) => c.columns(['repository', 'digest']).doUpdateSet({ touched_at: v.touched_at })),
);

// Lineage asks it on every tag move.
const childManifests = precompiledWithList('parents', (db, v: { repository: string; parents: readonly string[] }) =>
  db.selectFrom('manifest_references').select('child').where('repository', '=', v.repository).where('kind', '=', 'manifest').where('parent', 'in', v.parents),
);

/** `reads`: the hot reads' fast path (outside transactions; see fast-reads.ts). */
export function manifestStore(db: Db, reads: FastReads = fastReads(db)): ManifestStore {
  return {
    async add({ record, references }) {
      await insertManifest.execute(db, {
        repository: record.repository,
        digest: record.digest,
        media_type: record.mediaType,
        size: record.size,
        artifact_type: record.artifactType,
        subject: record.subject,
        config_digest: record.configDigest,
        annotations: record.annotations ? JSON.stringify(record.annotations) : null,
        created_at: record.createdAt,
        touched_at: record.createdAt,
      });
      // Always (idempotent): GC may have deleted the row, and its references, just before.
      const unique = new Map(references.map((r) => [r.child, r]));
      const rows = [...unique.values()].map((r) => ({ repository: record.repository, parent: record.digest, child: r.child, kind: r.kind }));
      for (let i = 0; i < rows.length; i += 200) {
        await db
          .insertInto('manifest_references')
          .values(rows.slice(i, i + 200))
          .onConflict((c) => c.columns(['repository', 'parent', 'child']).doNothing())
          .execute();
      }
      return holdDigest(db, record.repository, record.digest, record.size, record.createdAt);
    },
    async get(repository, digest) {
      const row = await reads.first(one, { repository, digest });
      return row ? toManifestRecord(row) : undefined;
    },
    async describe(repository, reference) {
      const row = 'tag' in reference ? await reads.first(byTag, { repository, tag: reference.tag }) : await reads.first(byDigest, { repository, digest: reference.digest });
      return row ? { digest: row.digest, mediaType: row.media_type, size: Number(row.size) } : undefined;
    },
    sizes: (repository, digests) => sizesInRepository(db, 'manifest', repository, digests),
    lockSizes: (repository, digests) => sizesInRepository(db, 'manifest', repository, digests, isPostgres(db)),
    async remove(repository, digest) {
      await db.deleteFrom('manifest_references').where('repository', '=', repository).where('parent', '=', digest).execute();
      const result = await db.deleteFrom('manifests').where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await releaseDigests(db, [{ repository, digest }]);
      return true;
    },
    async referrerDigests(repository, subjects) {
      const out: string[] = [];
      for (let i = 0; i < subjects.length; i += 200) {
        const rows = await db.selectFrom('manifests').select('digest').where('repository', '=', repository).where('subject', 'in', subjects.slice(i, i + 200)).execute();
        out.push(...rows.map((r) => r.digest));
      }
      return out;
    },
    async children(repository, parents) {
      const out: string[] = [];
      for (let i = 0; i < parents.length; i += 200) {
        out.push(...(await childManifests.rows(db, { repository, parents: parents.slice(i, i + 200) })).map((r) => r.child));
      }
      return out;
    },
    async parents(repository, child) {
      const rows = await db.selectFrom('manifest_references').select('parent').where('repository', '=', repository).where('child', '=', child).limit(10_000).execute();
      return rows.map((r) => r.parent);
    },
    async holders(digest) {
      const rows = await db.selectFrom('manifests').select(['repository', 'media_type']).where('digest', '=', digest).orderBy('created_at').orderBy('repository').limit(1000).execute();
      return rows.map((r) => ({ repository: r.repository, mediaType: r.media_type }));
    },
    async referrers(repository, subject, artifactType) {
      let query = db.selectFrom('manifests').select(columns).where('repository', '=', repository).where('subject', '=', subject);
      if (artifactType !== undefined) query = query.where('artifact_type', '=', artifactType);
      return (await query.orderBy('created_at').orderBy('digest').execute()).map(toManifestRecord);
    },
  };
}
