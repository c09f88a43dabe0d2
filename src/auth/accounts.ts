import { RegistryError } from '../errors.js';
import type { MetadataStore } from '../metadata/store.js';
import type { AuditLog } from './audit-log.js';
import { hashPassword } from './passwords.js';
import { isRepositoryAction, isRole, type RepositoryAction, type Role } from './policy.js';
import { robotName, ROBOT_PREFIX } from './principal.js';
import { randomSecret, sha256Hex } from './secrets.js';

/** Who asks for a change, for the audit log. */
export interface Actor {
  name: string;
  source?: string | undefined;
}

export interface UserView {
  name: string;
  admin: boolean;
  createdAt: string;
}
export interface ProjectView {
  name: string;
  public: boolean;
  createdAt: string;
}
export interface MemberView {
  username: string;
  role: Role;
  since: string;
}
export interface RobotView {
  name: string;
  project: string;
  actions: RepositoryAction[];
  description: string | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

const USER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$/;
const PROJECT_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const ROBOT_SHORT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const isValidProjectName = (name: string) => name.length <= 128 && PROJECT_NAME.test(name);

const iso = (ms: number) => new Date(ms).toISOString();
const invalid = (message: string) => new RegistryError('INVALID_REQUEST', message);
const notFound = (what: string) => new RegistryError('NOT_FOUND', `${what} not found`);

/**
 * Users, projects, members and robots: the management operations the API and the CLI share.
 * Callers check permissions first; this validates, writes and audits.
 */
export interface Accounts {
  listUsers(): Promise<UserView[]>;
  getUser(name: string): Promise<UserView>;
  createUser(actor: Actor, input: { name: string; password: string; admin?: boolean }): Promise<UserView>;
  setPassword(actor: Actor, name: string, password: string): Promise<void>;
  setAdmin(actor: Actor, name: string, admin: boolean): Promise<UserView>;
  removeUser(actor: Actor, name: string): Promise<void>;
  listProjects(visibleTo?: { name: string; admin: boolean }): Promise<ProjectView[]>;
  getProject(name: string): Promise<ProjectView>;
  createProject(actor: Actor, input: { name: string; public?: boolean }): Promise<ProjectView>;
  setProjectPublic(actor: Actor, name: string, isPublic: boolean): Promise<ProjectView>;
  removeProject(actor: Actor, name: string): Promise<void>;
  listMembers(project: string): Promise<MemberView[]>;
  setMember(actor: Actor, project: string, username: string, role: string): Promise<MemberView>;
  removeMember(actor: Actor, project: string, username: string): Promise<void>;
  listRobots(project: string): Promise<RobotView[]>;
  /** Creates a robot; the secret is returned here once and never again. */
  createRobot(actor: Actor, project: string, input: { name: string; actions: string[]; expiresAt?: number | null; description?: string | null }): Promise<{ robot: RobotView; secret: string }>;
  revokeRobot(actor: Actor, project: string, name: string): Promise<void>;
}

export function accounts(deps: { metadata: MetadataStore; audit: AuditLog; now: () => number; userExists?: (name: string) => Promise<boolean> }): Accounts {
  const { metadata, audit } = deps;
  const record = (actor: Actor, action: string, fields: { project?: string; detail?: Record<string, unknown> }) =>
    audit.record({ actor: actor.name, source: actor.source, action, result: 'success', ...fields });

  const userView = (u: { name: string; admin: boolean; createdAt: number }): UserView => ({ name: u.name, admin: u.admin, createdAt: iso(u.createdAt) });
  const projectView = (p: { name: string; public: boolean; createdAt: number }): ProjectView => ({ name: p.name, public: p.public, createdAt: iso(p.createdAt) });
  const robotView = (r: import('../metadata/robots.js').RobotRecord): RobotView => ({
    name: r.name,
    project: r.project,
    actions: r.actions.filter(isRepositoryAction),
    description: r.description,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    expiresAt: r.expiresAt === null ? null : iso(r.expiresAt),
    revokedAt: r.revokedAt === null ? null : iso(r.revokedAt),
  });

  async function requireUser(name: string) {
    const user = await metadata.users.get(name);
    if (!user) throw notFound('user');
    return user;
  }
  async function requireProject(name: string) {
    const project = await metadata.projects.get(name);
    if (!project) throw notFound('project');
    return project;
  }
  async function keepOneAdmin(name: string) {
    const user = await requireUser(name);
    if (user.admin && (await metadata.users.countAdmins()) <= 1) throw new RegistryError('CONFLICT', 'the last system administrator cannot be removed or demoted');
  }

  return {
    async listUsers() {
      return (await metadata.users.list()).map(userView);
    },
    async getUser(name) {
      return userView(await requireUser(name));
    },
    async createUser(actor, input) {
      if (!USER_NAME.test(input.name)) throw invalid('user names are 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
      const now = deps.now();
      const passwordHash = await hashPassword(input.password);
      const created = await metadata.users.create({ name: input.name, passwordHash, admin: input.admin === true, createdAt: now, passwordChangedAt: now });
      if (!created) throw new RegistryError('CONFLICT', 'a user with that name exists');
      record(actor, 'user.create', { detail: { user: input.name, admin: input.admin === true } });
      return userView({ name: input.name, admin: input.admin === true, createdAt: now });
    },
    async setPassword(actor, name, password) {
      const passwordHash = await hashPassword(password);
      if (!(await metadata.users.setPassword(name, passwordHash, deps.now()))) throw notFound('user');
      record(actor, 'user.password', { detail: { user: name } });
    },
    async setAdmin(actor, name, admin) {
      if (!admin) await keepOneAdmin(name);
      if (!(await metadata.users.setAdmin(name, admin))) throw notFound('user');
      record(actor, 'user.admin', { detail: { user: name, admin } });
      return userView(await requireUser(name));
    },
    async removeUser(actor, name) {
      await keepOneAdmin(name);
      if (!(await metadata.users.remove(name))) throw notFound('user');
      record(actor, 'user.remove', { detail: { user: name } });
    },
    async listProjects(visibleTo) {
      const rows = !visibleTo || visibleTo.admin ? await metadata.projects.list() : await metadata.projects.listVisibleTo(visibleTo.name);
      return rows.map(projectView);
    },
    async getProject(name) {
      return projectView(await requireProject(name));
    },
    async createProject(actor, input) {
      if (!isValidProjectName(input.name)) throw invalid('project names are one repository path component: lower-case letters, digits and separators');
      const project = { name: input.name, public: input.public === true, createdAt: deps.now() };
      if (!(await metadata.projects.create(project))) throw new RegistryError('CONFLICT', 'a project with that name exists');
      record(actor, 'project.create', { project: input.name, detail: { public: project.public } });
      return projectView(project);
    },
    async setProjectPublic(actor, name, isPublic) {
      if (!(await metadata.projects.setPublic(name, isPublic))) throw notFound('project');
      record(actor, 'project.visibility', { project: name, detail: { public: isPublic } });
      return projectView(await requireProject(name));
    },
    async removeProject(actor, name) {
      if (!(await metadata.projects.remove(name))) throw notFound('project');
      record(actor, 'project.remove', { project: name });
    },
    async listMembers(project) {
      await requireProject(project);
      return (await metadata.projects.members(project)).flatMap((m) => (isRole(m.role) ? [{ username: m.username, role: m.role, since: iso(m.createdAt) }] : []));
    },
    async setMember(actor, project, username, role) {
      if (!isRole(role)) throw invalid('role must be one of admin, maintainer, developer, tester, guest');
      await requireProject(project);
      const exists = (await metadata.users.get(username)) !== undefined || ((await deps.userExists?.(username)) ?? false);
      if (!exists || username.startsWith(ROBOT_PREFIX)) throw notFound('user');
      const createdAt = deps.now();
      await metadata.projects.setMember({ project, username, role, createdAt });
      record(actor, 'member.set', { project, detail: { user: username, role } });
      return { username, role, since: iso(createdAt) };
    },
    async removeMember(actor, project, username) {
      if (!(await metadata.projects.removeMember(project, username))) throw notFound('member');
      record(actor, 'member.remove', { project, detail: { user: username } });
    },
    async listRobots(project) {
      await requireProject(project);
      return (await metadata.robots.list(project)).map(robotView);
    },
    async createRobot(actor, project, input) {
      await requireProject(project);
      if (!ROBOT_SHORT_NAME.test(input.name) || input.name.length > 64) throw invalid('robot names are lower-case letters, digits, ".", "_" or "-"');
      const actions = [...new Set(input.actions)];
      if (actions.length === 0 || !actions.every(isRepositoryAction)) throw invalid('robot actions are a non-empty list of pull, push, delete');
      const now = deps.now();
      if (input.expiresAt != null && input.expiresAt <= now) throw invalid('expiry must be in the future');
      const secret = randomSecret(32);
      const robot = {
        name: robotName(project, input.name),
        project,
        secretHash: sha256Hex(secret),
        actions,
        description: input.description ?? null,
        createdBy: actor.name,
        createdAt: now,
        expiresAt: input.expiresAt ?? null,
        revokedAt: null,
      };
      if (!(await metadata.robots.create(robot))) throw new RegistryError('CONFLICT', 'a robot with that name exists');
      record(actor, 'robot.create', { project, detail: { robot: robot.name, actions, expiresAt: robot.expiresAt } });
      return { robot: robotView(robot), secret };
    },
    async revokeRobot(actor, project, name) {
      const full = name.startsWith(ROBOT_PREFIX) ? name : robotName(project, name);
      const robot = await metadata.robots.get(full);
      if (!robot || robot.project !== project) throw notFound('robot');
      await metadata.robots.revoke(full, deps.now());
      record(actor, 'robot.revoke', { project, detail: { robot: full } });
    },
  };
}
