import type { Db } from './database.js';
import { precompiled, precompiledWithList } from './precompiled.js';
import { bigintValue, textValue } from './sql-values.js';
import type { Database } from './schema.js';

export interface BaseRef {
  digest: string;
  /** The repository the base was found in (the digest may be in others too). */
  repository: string | null;
  /** `org.opencontainers.image.base.name`, when the image names its base. */
  name: string | null;
  source: 'annotation' | 'layers';
}

export interface LineageRecord {
  repository: string;
  digest: string;
  chainId: string;
  layerCount: number;
  base: BaseRef | null;
  createdAt: number;
}

/**
 * The base-image lineage index: one row per image manifest per repository (its layer chain and
 * its base), and the chain id of every proper prefix of its layer list, so both questions are
 * index lookups: "which images is this one built on" (its prefixes' chain ids against whole
 * chains) and "which images are built on this one" (its whole chain against prefixes).
 */
export interface LineageStore {
  /** Indexes an image (its row and prefixes); false when it was indexed already. */
  add(record: LineageRecord, prefixes: string[]): Promise<boolean>;
  get(repository: string, digest: string): Promise<LineageRecord | undefined>;
  /** The rows of `digest` in every repository that holds it. */
  ofDigest(digest: string): Promise<LineageRecord[]>;
  /** Images whose whole layer chain is one of `chainIds`: candidate bases. */
  withChains(chainIds: string[]): Promise<LineageRecord[]>;
  /** Images whose layer list starts with the layers of `chainId` and has more. */
  startingWith(chainId: string): Promise<LineageRecord[]>;
  /** Images whose base is one of `digests`. */
  builtOn(digests: string[]): Promise<LineageRecord[]>;
  setBase(repository: string, digest: string, base: BaseRef | null): Promise<void>;
  remove(repository: string, digest: string): Promise<void>;
  /** Copies the rows of `digests` to another repository (a promotion). */
  copy(from: string, to: string, digests: string[], now: number): Promise<void>;
}

const columns = ['l.repository', 'l.digest', 'l.chain_id', 'l.layer_count', 'l.base_digest', 'l.base_repository', 'l.base_name', 'l.base_source', 'l.created_at'] as const;
type Row = Database['lineage_images'];

const toRecord = (r: Row): LineageRecord => ({
  repository: r.repository,
  digest: r.digest,
  chainId: r.chain_id,
  layerCount: Number(r.layer_count),
  base: r.base_digest ? { digest: r.base_digest, repository: r.base_repository, name: r.base_name, source: r.base_source === 'annotation' ? 'annotation' : 'layers' } : null,
  createdAt: Number(r.created_at),
});

const baseColumns = (base: BaseRef | null) => ({
  base_digest: base?.digest ?? null,
  base_repository: base?.repository ?? null,
  base_name: base?.name ?? null,
  base_source: base?.source ?? null,
});

const LIMIT = 1000;

// A push's statements (see precompiled.ts).
const insertImage = precompiled((db, v: Row) =>
  db
    .insertInto('lineage_images')
    .values({
      repository: v.repository,
      digest: v.digest,
      chain_id: v.chain_id,
      layer_count: v.layer_count,
      base_digest: v.base_digest,
      base_repository: v.base_repository,
      base_name: v.base_name,
      base_source: v.base_source,
      created_at: v.created_at,
    })
    .onConflict((c) => c.columns(['repository', 'digest']).doNothing()),
);
const withPrefix = precompiled((db, v: { chainId: string }) =>
  db
    .selectFrom('lineage_images as l')
    .select(columns)
    .innerJoin('lineage_prefixes as p', (join) => join.onRef('p.repository', '=', 'l.repository').onRef('p.digest', '=', 'l.digest'))
    .where('p.chain_id', '=', v.chainId)
    .limit(LIMIT),
);
// Every tag move asks what was built on the digest it leaves.
const basedOn = precompiledWithList('digests', (db, v: { digests: readonly string[] }) =>
  db.selectFrom('lineage_images as l').select(columns).where('l.base_digest', 'in', v.digests).orderBy('l.repository').orderBy('l.digest').limit(LIMIT),
);

export function lineageStore(db: Db): LineageStore {
  const select = () => db.selectFrom('lineage_images as l').select(columns);
  return {
    async add(record, prefixes) {
      const row = { repository: record.repository, digest: record.digest, chain_id: record.chainId, layer_count: record.layerCount, ...baseColumns(record.base), created_at: record.createdAt };
      if ((await insertImage.changes(db, row)) === 0) return false;
      const rows = prefixes.map((chainId, i) => ({ repository: record.repository, digest: record.digest, depth: i + 1, chain_id: chainId }));
      for (let i = 0; i < rows.length; i += 200) {
        await db.insertInto('lineage_prefixes').values(rows.slice(i, i + 200)).onConflict((c) => c.columns(['repository', 'digest', 'depth']).doNothing()).execute();
      }
      return true;
    },
    async get(repository, digest) {
      const row = await select().where('l.repository', '=', repository).where('l.digest', '=', digest).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async ofDigest(digest) {
      return (await select().where('l.digest', '=', digest).orderBy('l.created_at').orderBy('l.repository').limit(LIMIT).execute()).map(toRecord);
    },
    async withChains(chainIds) {
      if (chainIds.length === 0) return [];
      const rows = await select().where('l.chain_id', 'in', chainIds.slice(0, 500)).orderBy('l.created_at').orderBy('l.repository').limit(LIMIT).execute();
      return rows.map(toRecord);
    },
    async startingWith(chainId) {
      return (await withPrefix.rows(db, { chainId })).map(toRecord);
    },
    async builtOn(digests) {
      if (digests.length === 0) return [];
      return (await basedOn.rows(db, { digests: digests.slice(0, 500) })).map(toRecord);
    },
    async setBase(repository, digest, base) {
      await db.updateTable('lineage_images').set(baseColumns(base)).where('repository', '=', repository).where('digest', '=', digest).execute();
    },
    async remove(repository, digest) {
      await db.deleteFrom('lineage_prefixes').where('repository', '=', repository).where('digest', '=', digest).execute();
      await db.deleteFrom('lineage_images').where('repository', '=', repository).where('digest', '=', digest).execute();
    },
    async copy(from, to, digests, now) {
      for (let i = 0; i < digests.length; i += 200) {
        const part = digests.slice(i, i + 200);
        await db
          .insertInto('lineage_images')
          .columns(['repository', 'digest', 'chain_id', 'layer_count', 'base_digest', 'base_repository', 'base_name', 'base_source', 'created_at'])
          .expression((eb) =>
            eb
              .selectFrom('lineage_images')
              .select([textValue(to).as('repository'), 'digest', 'chain_id', 'layer_count', 'base_digest', 'base_repository', 'base_name', 'base_source', bigintValue(now).as('created_at')])
              .where('repository', '=', from)
              .where('digest', 'in', part),
          )
          .onConflict((c) => c.columns(['repository', 'digest']).doNothing())
          .execute();
        await db
          .insertInto('lineage_prefixes')
          .columns(['repository', 'digest', 'depth', 'chain_id'])
          .expression((eb) =>
            eb.selectFrom('lineage_prefixes').select([textValue(to).as('repository'), 'digest', 'depth', 'chain_id']).where('repository', '=', from).where('digest', 'in', part),
          )
          .onConflict((c) => c.columns(['repository', 'digest', 'depth']).doNothing())
          .execute();
      }
    },
  };
}
