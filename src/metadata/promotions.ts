import { projectOf } from '../oci/names.js';
import type { Db } from './database.js';
import { bigintValue, textValue } from './sql-values.js';

export interface PromotionRecord {
  id: string;
  time: number;
  actor: string;
  sourceRepository: string;
  /** The tag or digest the caller named. */
  sourceReference: string;
  targetRepository: string;
  targetTag: string | null;
  digest: string;
  note: string | null;
}

export interface PromotionStore {
  add(record: PromotionRecord): Promise<void>;
  /** Promotions of any of `digests`, oldest first. */
  ofDigests(digests: string[]): Promise<PromotionRecord[]>;
  /** Whether `digest` was ever promoted into a repository of `project`. */
  promotedInto(project: string, digest: string): Promise<boolean>;
  /**
   * Copies the rows of `digests` from one repository to another, without touching blob bytes:
   * the manifest rows, their references, and links to every blob they reference. Idempotent.
   * Returns how many blob links the target gained or already had.
   */
  copyManifests(from: string, to: string, digests: string[], now: number): Promise<number>;
}

const CHUNK = 200;
const chunks = <T>(values: T[]): T[][] => Array.from({ length: Math.ceil(values.length / CHUNK) }, (_, i) => values.slice(i * CHUNK, (i + 1) * CHUNK));

export function promotionStore(db: Db): PromotionStore {
  return {
    async add(r) {
      await db
        .insertInto('promotions')
        .values({
          id: r.id,
          time: r.time,
          actor: r.actor,
          source_repository: r.sourceRepository,
          source_reference: r.sourceReference,
          target_project: projectOf(r.targetRepository),
          target_repository: r.targetRepository,
          target_tag: r.targetTag,
          digest: r.digest,
          note: r.note,
        })
        .execute();
    },
    async ofDigests(digests) {
      const out: PromotionRecord[] = [];
      for (const part of chunks([...new Set(digests)])) {
        const rows = await db.selectFrom('promotions').selectAll().where('digest', 'in', part).execute();
        for (const r of rows) {
          out.push({
            id: r.id,
            time: Number(r.time),
            actor: r.actor,
            sourceRepository: r.source_repository,
            sourceReference: r.source_reference,
            targetRepository: r.target_repository,
            targetTag: r.target_tag,
            digest: r.digest,
            note: r.note,
          });
        }
      }
      return out.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1));
    },
    async promotedInto(project, digest) {
      const row = await db
        .selectFrom('promotions')
        .select('id')
        .where('digest', '=', digest)
        .where('target_project', '=', project)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
    async copyManifests(from, to, digests, now) {
      let links = 0;
      for (const part of chunks(digests)) {
        await db
          .insertInto('manifests')
          .columns(['repository', 'digest', 'media_type', 'size', 'artifact_type', 'subject', 'config_digest', 'annotations', 'created_at', 'platforms'])
          .expression((eb) =>
            eb
              .selectFrom('manifests')
              .select([
                textValue(to).as('repository'),
                'digest',
                'media_type',
                'size',
                'artifact_type',
                'subject',
                'config_digest',
                'annotations',
                bigintValue(now).as('created_at'),
                'platforms',
              ])
              .where('repository', '=', from)
              .where('digest', 'in', part),
          )
          .onConflict((c) => c.columns(['repository', 'digest']).doNothing())
          .execute();
        await db
          .insertInto('manifest_references')
          .columns(['repository', 'parent', 'child', 'kind'])
          .expression((eb) =>
            eb
              .selectFrom('manifest_references')
              .select([textValue(to).as('repository'), 'parent', 'child', 'kind'])
              .where('repository', '=', from)
              .where('parent', 'in', part),
          )
          .onConflict((c) => c.columns(['repository', 'parent', 'child']).doNothing())
          .execute();
        const blobs = await db
          .selectFrom('manifest_references')
          .select('child')
          .distinct()
          .where('repository', '=', from)
          .where('kind', '=', 'blob')
          .where('parent', 'in', part)
          .execute();
        for (const blobPart of chunks(blobs.map((b) => b.child))) {
          await db
            .insertInto('repository_blobs')
            .values(blobPart.map((digest) => ({ repository: to, digest, created_at: now })))
            .onConflict((c) => c.columns(['repository', 'digest']).doNothing())
            .execute();
        }
        links += blobs.length;
      }
      return links;
    },
  };
}
