import type { Db } from './database.js';
import { precompiled } from './precompiled.js';

export interface TagHistoryEntry {
  repository: string;
  tag: string;
  digest: string;
  /** When the tag started pointing at `digest`. */
  time: number;
  /** Who moved it there (null: recorded when the history began). */
  actor: string | null;
  /** `push`, `promotion`, or `migration` (what the tag pointed at when the history began). */
  via: string;
}

/** Every digest each tag has pointed at, and since when: what "stale" and an image's history are read from. */
export interface TagHistoryStore {
  add(entry: TagHistoryEntry & { id: string }): Promise<void>;
  /** Entries for any of `digests` (in any repository), oldest first. */
  ofDigests(digests: string[]): Promise<TagHistoryEntry[]>;
  /** One tag's entries, newest first. */
  ofTag(repository: string, tag: string, limit: number): Promise<TagHistoryEntry[]>;
  /** The tags that ever pointed at any of `digests`, with what each points at now (null: deleted). */
  movedFrom(digests: string[]): Promise<Array<{ repository: string; tag: string; was: string; now: string | null }>>;
}

type Row = { repository: string; tag: string; digest: string; time: number; actor: string | null; via: string };
const toEntry = (r: Row): TagHistoryEntry => ({ repository: r.repository, tag: r.tag, digest: r.digest, time: Number(r.time), actor: r.actor, via: r.via });
const columns = ['repository', 'tag', 'digest', 'time', 'actor', 'via'] as const;

const insertEntry = precompiled((db, v: TagHistoryEntry & { id: string }) =>
  db.insertInto('tag_history').values({ id: v.id, repository: v.repository, tag: v.tag, digest: v.digest, time: v.time, actor: v.actor, via: v.via }),
);

export function tagHistoryStore(db: Db): TagHistoryStore {
  return {
    async add(e) {
      await insertEntry.execute(db, e);
    },
    async ofDigests(digests) {
      if (digests.length === 0) return [];
      const rows = await db.selectFrom('tag_history').select(columns).where('digest', 'in', [...new Set(digests)].slice(0, 500)).orderBy('time').orderBy('id').execute();
      return rows.map(toEntry);
    },
    async ofTag(repository, tag, limit) {
      const rows = await db.selectFrom('tag_history').select(columns).where('repository', '=', repository).where('tag', '=', tag).orderBy('time', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toEntry);
    },
    async movedFrom(digests) {
      if (digests.length === 0) return [];
      const rows = await db
        .selectFrom('tag_history as h')
        .leftJoin('tags as t', (join) => join.onRef('t.repository', '=', 'h.repository').onRef('t.name', '=', 'h.tag'))
        .select(['h.repository', 'h.tag', 'h.digest as was', 't.digest as now'])
        .distinct()
        .where('h.digest', 'in', [...new Set(digests)].slice(0, 500))
        .execute();
      return rows.map((r) => ({ repository: r.repository, tag: r.tag, was: r.was, now: r.now ?? null }));
    },
  };
}
