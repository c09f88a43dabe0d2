import { sql } from 'kysely';
import type { Db } from './database.js';

/** Token signing keys and login-failure counters: small shared state every instance must see. */
export interface AuthStateStore {
  /** The oldest stored signing key (a private JWK as JSON), if any. */
  signingKey(): Promise<{ id: string; privateJwk: string } | undefined>;
  /** Stores a key unless one with that id exists. */
  addSigningKey(id: string, privateJwk: string, now: number): Promise<void>;
  /** Failures counted for `key` in the window that contains `now` (0 when it has passed). */
  failures(key: string, now: number, windowMs: number): Promise<{ count: number; windowStart: number }>;
  /** Counts one failure (a fresh window starts when the last one has passed); returns the new count. */
  addFailure(key: string, now: number, windowMs: number): Promise<number>;
  clearFailures(key: string): Promise<void>;
}

export function authStateStore(db: Db): AuthStateStore {
  return {
    async signingKey() {
      const row = await db.selectFrom('signing_keys').select(['id', 'private_jwk']).orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
      return row ? { id: row.id, privateJwk: row.private_jwk } : undefined;
    },
    async addSigningKey(id, privateJwk, now) {
      await db.insertInto('signing_keys').values({ id, private_jwk: privateJwk, created_at: now }).onConflict((c) => c.column('id').doNothing()).execute();
    },
    async failures(key, now, windowMs) {
      const row = await db.selectFrom('login_failures').select(['count', 'window_start']).where('key', '=', key).executeTakeFirst();
      if (!row || Number(row.window_start) <= now - windowMs) return { count: 0, windowStart: now };
      return { count: Number(row.count), windowStart: Number(row.window_start) };
    },
    async addFailure(key, now, windowMs) {
      const expired = now - windowMs;
      // One statement, so concurrent failures on several instances all count.
      await db
        .insertInto('login_failures')
        .values({ key, window_start: now, count: 1 })
        .onConflict((c) =>
          c.column('key').doUpdateSet({
            count: sql<number>`case when login_failures.window_start <= ${expired} then 1 else login_failures.count + 1 end`,
            window_start: sql<number>`case when login_failures.window_start <= ${expired} then ${now} else login_failures.window_start end`,
          }),
        )
        .execute();
      const row = await db.selectFrom('login_failures').select('count').where('key', '=', key).executeTakeFirst();
      return Number(row?.count ?? 1);
    },
    async clearFailures(key) {
      await db.deleteFrom('login_failures').where('key', '=', key).execute();
    },
  };
}
