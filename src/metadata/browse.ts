import { sql } from 'kysely';
import type { Db } from './database.js';

/** Which repositories a query may see: all, or those of some projects (first path segment). */
export type ProjectFilter = { all: true } | { projects: string[] };

export interface RepositorySummary {
  name: string;
  tagCount: number;
  manifestCount: number;
  /** Bytes of the blobs the repository may serve (each counted once). */
  size: number;
  /** Newest tag change or manifest push; null when nothing was pushed. */
  lastPush: number | null;
}

export type RepositorySort = 'name' | 'size' | 'tags' | 'pushed';

export interface RepositoryQuery {
  filter: ProjectFilter;
  search?: string;
  sort: RepositorySort;
  descending: boolean;
  limit: number;
  offset: number;
}

export interface TagRow {
  name: string;
  digest: string;
  updatedAt: number;
  mediaType: string;
  manifestSize: number;
  artifactType: string | null;
  /** Compressed size: config + layers, summed over the children of an index. */
  contentSize: number;
  /** JSON the registry stored once it worked them out; null until then. */
  platforms: string | null;
  lastPulledAt: number | null;
  /** Manifest GETs counted so far. */
  pullCount: number;
  pushedAt: number;
}

export interface UsageCounts {
  repositories: number;
  tags: number;
  manifests: number;
  blobs: number;
  blobBytes: number;
}

/** Read-mostly queries for the console, plus the platforms column it maintains. */
export interface BrowseStore {
  repositories(query: RepositoryQuery): Promise<{ items: RepositorySummary[]; total: number }>;
  tags(repository: string, options: { search?: string; limit: number; offset: number }): Promise<{ items: TagRow[]; total: number }>;
  /** Tag names pointing at `digest`. */
  tagsOf(repository: string, digest: string): Promise<string[]>;
  /** Sizes of blobs referenced by a manifest (config and layers), by digest. */
  blobSizes(digests: string[]): Promise<Map<string, number>>;
  manifestExtras(repository: string, digest: string): Promise<{ lastPulledAt: number | null; pullCount: number; platforms: string | null } | undefined>;
  setPlatforms(repository: string, digest: string, platforms: string): Promise<void>;
  /** Every repository name (for grouping usage by project). */
  repositoryNames(): Promise<string[]>;
  /** Bytes of the distinct blobs the repositories of `project` may serve. */
  projectBytes(project: string): Promise<number>;
  counts(): Promise<UsageCounts>;
}

/** `LIKE` pattern for a literal prefix/substring (escapes `%`, `_` and the escape itself). */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

function projectCondition(filter: ProjectFilter, column: string) {
  if ('all' in filter) return sql<boolean>`1 = 1`;
  if (filter.projects.length === 0) return sql<boolean>`1 = 0`;
  const parts = filter.projects.map(
    (p) => sql`(${sql.ref(column)} = ${p} or ${sql.ref(column)} like ${likeLiteral(p) + '/%'} escape '\\')`,
  );
  return sql<boolean>`(${sql.join(parts, sql` or `)})`;
}

const sortColumns: Record<RepositorySort, string> = { name: 'name', size: 'size', tags: 'tag_count', pushed: 'last_push' };

export function browseStore(db: Db): BrowseStore {
  return {
    async repositories({ filter, search, sort, descending, limit, offset }) {
      const where = search
        ? sql`${projectCondition(filter, 'r.name')} and lower(r.name) like ${'%' + likeLiteral(search.toLowerCase()) + '%'} escape '\\'`
        : projectCondition(filter, 'r.name');
      const direction = descending ? sql`desc` : sql`asc`;
      const column = sql.ref(`q.${sortColumns[sort]}`);
      // A subquery, so ORDER BY may use the computed columns in expressions (PostgreSQL cannot
      // on output aliases). Never-pushed rows sort last either way; name breaks ties for paging.
      const rows = await sql<{ name: string; tag_count: number; manifest_count: number; size: number | null; last_push: number | null }>`
        select * from (
          select r.name,
            (select count(*) from tags t where t.repository = r.name) as tag_count,
            (select count(*) from manifests m where m.repository = r.name) as manifest_count,
            (select sum(b.size) from repository_blobs rb join blobs b on b.digest = rb.digest where rb.repository = r.name) as size,
            (select max(x.at) from (
               select max(t.updated_at) as at from tags t where t.repository = r.name
               union all select max(m.created_at) as at from manifests m where m.repository = r.name) x) as last_push
          from repositories r
          where ${where}) q
        order by case when ${column} is null then 1 else 0 end, ${column} ${direction}, q.name asc
        limit ${limit} offset ${offset}`.execute(db);
      const total = await sql<{ n: number }>`select count(*) as n from repositories r where ${where}`.execute(db);
      return {
        items: rows.rows.map((r) => ({
          name: r.name,
          tagCount: Number(r.tag_count),
          manifestCount: Number(r.manifest_count),
          size: Number(r.size ?? 0),
          lastPush: r.last_push === null ? null : Number(r.last_push),
        })),
        total: Number(total.rows[0]?.n ?? 0),
      };
    },

    async tags(repository, { search, limit, offset }) {
      const where = search
        ? sql`t.repository = ${repository} and lower(t.name) like ${'%' + likeLiteral(search.toLowerCase()) + '%'} escape '\\'`
        : sql`t.repository = ${repository}`;
      const rows = await sql<{
        name: string; digest: string; updated_at: number; media_type: string; size: number; artifact_type: string | null;
        platforms: string | null; last_pulled_at: number | null; pull_count: number; created_at: number; own_size: number | null; child_size: number | null;
      }>`
        select t.name, t.digest, t.updated_at, m.media_type, m.size, m.artifact_type, m.platforms, m.last_pulled_at, m.pull_count, m.created_at,
          (select sum(b.size) from manifest_references r join blobs b on b.digest = r.child
             where r.repository = t.repository and r.parent = t.digest and r.kind = 'blob') as own_size,
          (select sum(b.size) from manifest_references c
             join manifest_references r on r.repository = c.repository and r.parent = c.child and r.kind = 'blob'
             join blobs b on b.digest = r.child
             where c.repository = t.repository and c.parent = t.digest and c.kind = 'manifest') as child_size
        from tags t join manifests m on m.repository = t.repository and m.digest = t.digest
        where ${where}
        order by t.updated_at desc, t.name asc
        limit ${limit} offset ${offset}`.execute(db);
      const total = await sql<{ n: number }>`select count(*) as n from tags t where ${where}`.execute(db);
      return {
        items: rows.rows.map((r) => ({
          name: r.name,
          digest: r.digest,
          updatedAt: Number(r.updated_at),
          mediaType: r.media_type,
          manifestSize: Number(r.size),
          artifactType: r.artifact_type,
          contentSize: Number(r.own_size ?? 0) + Number(r.child_size ?? 0),
          platforms: r.platforms,
          lastPulledAt: r.last_pulled_at === null ? null : Number(r.last_pulled_at),
          pullCount: Number(r.pull_count),
          pushedAt: Number(r.created_at),
        })),
        total: Number(total.rows[0]?.n ?? 0),
      };
    },

    async tagsOf(repository, digest) {
      const rows = await db.selectFrom('tags').select('name').where('repository', '=', repository).where('digest', '=', digest).orderBy('name').execute();
      return rows.map((r) => r.name);
    },

    async blobSizes(digests) {
      const sizes = new Map<string, number>();
      const unique = [...new Set(digests)];
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await db.selectFrom('blobs').select(['digest', 'size']).where('digest', 'in', unique.slice(i, i + 500)).execute();
        for (const row of rows) sizes.set(row.digest, Number(row.size));
      }
      return sizes;
    },

    async manifestExtras(repository, digest) {
      const row = await db
        .selectFrom('manifests')
        .select(['last_pulled_at', 'pull_count', 'platforms'])
        .where('repository', '=', repository)
        .where('digest', '=', digest)
        .executeTakeFirst();
      return row ? { lastPulledAt: row.last_pulled_at === null ? null : Number(row.last_pulled_at), pullCount: Number(row.pull_count), platforms: row.platforms } : undefined;
    },

    async setPlatforms(repository, digest, platforms) {
      await db.updateTable('manifests').set({ platforms }).where('repository', '=', repository).where('digest', '=', digest).execute();
    },

    async repositoryNames() {
      return (await db.selectFrom('repositories').select('name').orderBy('name').execute()).map((r) => r.name);
    },

    async projectBytes(project) {
      const result = await sql<{ n: number | null }>`
        select sum(b.size) as n from blobs b where b.digest in (
          select rb.digest from repository_blobs rb where ${projectCondition({ projects: [project] }, 'rb.repository')})`.execute(db);
      return Number(result.rows[0]?.n ?? 0);
    },

    async counts() {
      const one = async (query: ReturnType<typeof sql<{ n: number | null }>>) => Number((await query.execute(db)).rows[0]?.n ?? 0);
      const [repositories, tags, manifests, blobs, blobBytes] = await Promise.all([
        one(sql`select count(*) as n from repositories`),
        one(sql`select count(*) as n from tags`),
        one(sql`select count(*) as n from manifests`),
        one(sql`select count(*) as n from blobs`),
        one(sql`select sum(size) as n from blobs`),
      ]);
      return { repositories, tags, manifests, blobs, blobBytes };
    },
  };
}
