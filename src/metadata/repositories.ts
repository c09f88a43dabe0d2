import type { Db } from './database.js';
import { precompiled } from './precompiled.js';

export interface RepositoryStore {
  /** Records that a repository exists (idempotent). */
  ensure(name: string, now: number): Promise<void>;
  exists(name: string): Promise<boolean>;
  /** Names after `last` in byte order, at most `limit`. */
  list(options: { last?: string; limit: number }): Promise<string[]>;
}

const ensureRepository = precompiled((db, v: { name: string; now: number }) =>
  db.insertInto('repositories').values({ name: v.name, created_at: v.now }).onConflict((c) => c.column('name').doNothing()),
);

export function repositoryStore(db: Db): RepositoryStore {
  return {
    async ensure(name, now) {
      await ensureRepository.execute(db, { name, now });
    },
    async exists(name) {
      const row = await db.selectFrom('repositories').select('name').where('name', '=', name).executeTakeFirst();
      return row !== undefined;
    },
    async list({ last, limit }) {
      let query = db.selectFrom('repositories').select('name').orderBy('name').limit(limit);
      if (last !== undefined) query = query.where('name', '>', last);
      return (await query.execute()).map((r) => r.name);
    },
  };
}
