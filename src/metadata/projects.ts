import type { Db } from './database.js';
import { precompiled } from './precompiled.js';

export interface ProjectRecord {
  name: string;
  public: boolean;
  createdAt: number;
}

export interface MemberRecord {
  project: string;
  username: string;
  role: string;
  createdAt: number;
}

export interface ProjectStore {
  /** Inserts a project; false when it exists already. */
  create(project: ProjectRecord): Promise<boolean>;
  get(name: string): Promise<ProjectRecord | undefined>;
  list(): Promise<ProjectRecord[]>;
  /** Projects that are public or have `username` as a member. */
  listVisibleTo(username: string): Promise<ProjectRecord[]>;
  setPublic(name: string, isPublic: boolean): Promise<boolean>;
  /** Removes the project, its members and its robots (repositories are left alone). */
  remove(name: string): Promise<boolean>;
  members(project: string): Promise<MemberRecord[]>;
  role(project: string, username: string): Promise<string | undefined>;
  /** Adds a member or changes their role. */
  setMember(member: MemberRecord): Promise<void>;
  removeMember(project: string, username: string): Promise<boolean>;
}

const toProject = (r: { name: string; public: number; created_at: number }): ProjectRecord => ({
  name: r.name,
  public: Number(r.public) === 1,
  createdAt: Number(r.created_at),
});

const projectNamed = precompiled((db, v: { name: string }) => db.selectFrom('projects').selectAll().where('name', '=', v.name));

export function projectStore(db: Db): ProjectStore {
  return {
    async create(project) {
      const result = await db
        .insertInto('projects')
        .values({ name: project.name, public: project.public ? 1 : 0, created_at: project.createdAt })
        .onConflict((c) => c.column('name').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async get(name) {
      const row = await projectNamed.first(db, { name });
      return row ? toProject(row) : undefined;
    },
    async list() {
      return (await db.selectFrom('projects').selectAll().orderBy('name').execute()).map(toProject);
    },
    async listVisibleTo(username) {
      const rows = await db
        .selectFrom('projects')
        .selectAll()
        .where((e) =>
          e.or([
            e('public', '=', 1),
            e('name', 'in', e.selectFrom('project_members').select('project').where('username', '=', username)),
          ]),
        )
        .orderBy('name')
        .execute();
      return rows.map(toProject);
    },
    async setPublic(name, isPublic) {
      const result = await db.updateTable('projects').set({ public: isPublic ? 1 : 0 }).where('name', '=', name).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async remove(name) {
      await db.deleteFrom('project_members').where('project', '=', name).execute();
      await db.deleteFrom('robots').where('project', '=', name).execute();
      const result = await db.deleteFrom('projects').where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async members(project) {
      const rows = await db.selectFrom('project_members').selectAll().where('project', '=', project).orderBy('username').execute();
      return rows.map((r) => ({ project: r.project, username: r.username, role: r.role, createdAt: Number(r.created_at) }));
    },
    async role(project, username) {
      const row = await db.selectFrom('project_members').select('role').where('project', '=', project).where('username', '=', username).executeTakeFirst();
      return row?.role;
    },
    async setMember(member) {
      await db
        .insertInto('project_members')
        .values({ project: member.project, username: member.username, role: member.role, created_at: member.createdAt })
        .onConflict((c) => c.columns(['project', 'username']).doUpdateSet({ role: member.role }))
        .execute();
    },
    async removeMember(project, username) {
      const result = await db.deleteFrom('project_members').where('project', '=', project).where('username', '=', username).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
