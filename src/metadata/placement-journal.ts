import type { Db } from './database.js';

export interface JournalEntry {
  id: string;
  digest: string;
  body: Buffer;
}

export interface ReplayEntry extends JournalEntry {
  /** Some repository still holds a manifest with this digest (else it was deleted since: nothing to put back). */
  held: boolean;
}

/**
 * Pushed manifests whose files the filesystem store has not flushed yet, with their bytes: what
 * a start after a crash puts back (registry/placement-journal.ts).
 */
export interface PlacementJournalStore {
  add(entry: JournalEntry, now: number): Promise<void>;
  /** The oldest `limit` entries. */
  oldest(limit: number): Promise<ReplayEntry[]>;
  remove(ids: readonly string[]): Promise<void>;
}

export function placementJournalStore(db: Db): PlacementJournalStore {
  return {
    async add(entry, now) {
      await db.insertInto('placement_journal').values({ id: entry.id, digest: entry.digest, body: entry.body.toString('base64'), created_at: now }).execute();
    },
    async oldest(limit) {
      const rows = await db
        .selectFrom('placement_journal as j')
        .select((eb) => ['j.id', 'j.digest', 'j.body', eb.exists(eb.selectFrom('manifests as m').select('m.digest').whereRef('m.digest', '=', 'j.digest')).as('held')])
        .orderBy('j.created_at')
        .orderBy('j.id')
        .limit(limit)
        .execute();
      return rows.map((row) => ({ id: row.id, digest: row.digest, body: Buffer.from(row.body, 'base64'), held: Boolean(row.held) }));
    },
    async remove(ids) {
      // Bounded batches: SQLite's limit on bound parameters.
      for (let i = 0; i < ids.length; i += 500) await db.deleteFrom('placement_journal').where('id', 'in', ids.slice(i, i + 500)).execute();
    },
  };
}
