import type { Db } from './database.js';

export interface UserRecord {
  name: string;
  passwordHash: string;
  admin: boolean;
  createdAt: number;
  passwordChangedAt: number;
}

export interface UserStore {
  /** Inserts a user; false when the name is taken. */
  create(user: UserRecord): Promise<boolean>;
  get(name: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  setPassword(name: string, passwordHash: string, now: number): Promise<boolean>;
  setAdmin(name: string, admin: boolean): Promise<boolean>;
  /** Removes the user and their memberships and sessions. */
  remove(name: string): Promise<boolean>;
  countAdmins(): Promise<number>;
}

type Row = { name: string; password_hash: string; admin: number; created_at: number; password_changed_at: number };
const toRecord = (r: Row): UserRecord => ({
  name: r.name,
  passwordHash: r.password_hash,
  admin: Number(r.admin) === 1,
  createdAt: Number(r.created_at),
  passwordChangedAt: Number(r.password_changed_at),
});

export function userStore(db: Db): UserStore {
  return {
    async create(user) {
      const result = await db
        .insertInto('users')
        .values({ name: user.name, password_hash: user.passwordHash, admin: user.admin ? 1 : 0, created_at: user.createdAt, password_changed_at: user.passwordChangedAt })
        .onConflict((c) => c.column('name').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async get(name) {
      const row = await db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async list() {
      return (await db.selectFrom('users').selectAll().orderBy('name').execute()).map(toRecord);
    },
    async setPassword(name, passwordHash, now) {
      const result = await db.updateTable('users').set({ password_hash: passwordHash, password_changed_at: now }).where('name', '=', name).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      // A new password ends every console session of that user.
      await db.deleteFrom('sessions').where('username', '=', name).execute();
      return true;
    },
    async setAdmin(name, admin) {
      const result = await db.updateTable('users').set({ admin: admin ? 1 : 0 }).where('name', '=', name).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async remove(name) {
      await db.deleteFrom('project_members').where('username', '=', name).execute();
      await db.deleteFrom('sessions').where('username', '=', name).execute();
      const result = await db.deleteFrom('users').where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async countAdmins() {
      const row = await db.selectFrom('users').select((e) => e.fn.countAll<number>().as('n')).where('admin', '=', 1).executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
