import type { Db } from './database.js';

export interface UploadRecord {
  id: string;
  repository: string;
  size: number;
  createdAt: number;
  updatedAt: number;
}

export interface UploadStore {
  create(record: UploadRecord): Promise<void>;
  get(id: string): Promise<UploadRecord | undefined>;
  setSize(id: string, size: number, now: number): Promise<void>;
  remove(id: string): Promise<void>;
  /** Sessions untouched since `before`, by id after `after`, for the purge task. */
  staleSince(before: number, limit: number, after?: string): Promise<UploadRecord[]>;
  countOpen(): Promise<number>;
}

const toRecord = (row: { id: string; repository: string; size: number; created_at: number; updated_at: number }): UploadRecord => ({
  id: row.id,
  repository: row.repository,
  size: Number(row.size),
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

export function uploadStore(db: Db): UploadStore {
  return {
    async create(record) {
      await db
        .insertInto('uploads')
        .values({ id: record.id, repository: record.repository, size: record.size, created_at: record.createdAt, updated_at: record.updatedAt })
        .execute();
    },
    async get(id) {
      const row = await db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async setSize(id, size, now) {
      await db.updateTable('uploads').set({ size, updated_at: now }).where('id', '=', id).execute();
    },
    async remove(id) {
      await db.deleteFrom('uploads').where('id', '=', id).execute();
    },
    async staleSince(before, limit, after) {
      let query = db.selectFrom('uploads').selectAll().where('updated_at', '<', before).orderBy('id').limit(limit);
      if (after !== undefined) query = query.where('id', '>', after);
      return (await query.execute()).map(toRecord);
    },
    async countOpen() {
      const row = await db.selectFrom('uploads').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirst();
      return Number(row?.count ?? 0);
    },
  };
}
