import type { Db } from './database.js';
import { precompiled } from './precompiled.js';

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

// Every blob push runs these (see precompiled.ts).
const insertUpload = precompiled((db, v: UploadRecord) =>
  db.insertInto('uploads').values({ id: v.id, repository: v.repository, size: v.size, created_at: v.createdAt, updated_at: v.updatedAt }),
);
const uploadById = precompiled((db, v: { id: string }) => db.selectFrom('uploads').selectAll().where('id', '=', v.id));
const resizeUpload = precompiled((db, v: { id: string; size: number; now: number }) =>
  db.updateTable('uploads').set({ size: v.size, updated_at: v.now }).where('id', '=', v.id),
);
const deleteUpload = precompiled((db, v: { id: string }) => db.deleteFrom('uploads').where('id', '=', v.id));

export function uploadStore(db: Db): UploadStore {
  return {
    async create(record) {
      await insertUpload.execute(db, record);
    },
    async get(id) {
      const row = await uploadById.first(db, { id });
      return row ? toRecord(row) : undefined;
    },
    async setSize(id, size, now) {
      await resizeUpload.execute(db, { id, size, now });
    },
    async remove(id) {
      await deleteUpload.execute(db, { id });
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
