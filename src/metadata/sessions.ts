import type { Db } from './database.js';

export interface SessionRecord {
  /** SHA-256 of the cookie value, hex. */
  idHash: string;
  username: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** Console sessions, in the database so that every instance knows them. */
export interface SessionStore {
  create(session: SessionRecord): Promise<void>;
  /** The session when it exists and has not expired at `now`. */
  get(idHash: string, now: number): Promise<SessionRecord | undefined>;
  remove(idHash: string): Promise<void>;
  removeExpired(now: number): Promise<number>;
}

export function sessionStore(db: Db): SessionStore {
  return {
    async create(s) {
      await db
        .insertInto('sessions')
        .values({ id_hash: s.idHash, username: s.username, csrf_token: s.csrfToken, created_at: s.createdAt, expires_at: s.expiresAt })
        .execute();
    },
    async get(idHash, now) {
      const r = await db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).where('expires_at', '>', now).executeTakeFirst();
      return r ? { idHash: r.id_hash, username: r.username, csrfToken: r.csrf_token, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) } : undefined;
    },
    async remove(idHash) {
      await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
    },
    async removeExpired(now) {
      const result = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
