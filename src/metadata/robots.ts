import type { AuthTables } from './auth-schema.js';
import type { Db } from './database.js';

export interface RobotRecord {
  /** `robot$<project>+<name>`. */
  name: string;
  project: string;
  /** SHA-256 of the secret, hex (the secret itself is never stored). */
  secretHash: string;
  actions: string[];
  description: string | null;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface RobotStore {
  create(robot: RobotRecord): Promise<boolean>;
  get(name: string): Promise<RobotRecord | undefined>;
  list(project: string): Promise<RobotRecord[]>;
  revoke(name: string, now: number): Promise<boolean>;
}

type Row = AuthTables['robots'];

const toRecord = (r: Row): RobotRecord => ({
  name: r.name,
  project: r.project,
  secretHash: r.secret_hash,
  actions: r.actions.split(',').filter((a) => a !== ''),
  description: r.description,
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
});

export function robotStore(db: Db): RobotStore {
  return {
    async create(robot) {
      const result = await db
        .insertInto('robots')
        .values({
          name: robot.name,
          project: robot.project,
          secret_hash: robot.secretHash,
          actions: robot.actions.join(','),
          description: robot.description,
          created_by: robot.createdBy,
          created_at: robot.createdAt,
          expires_at: robot.expiresAt,
          revoked_at: robot.revokedAt,
        })
        .onConflict((c) => c.column('name').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async get(name) {
      const row = await db.selectFrom('robots').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async list(project) {
      return (await db.selectFrom('robots').selectAll().where('project', '=', project).orderBy('name').execute()).map(toRecord);
    },
    async revoke(name, now) {
      const result = await db.updateTable('robots').set({ revoked_at: now }).where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}
