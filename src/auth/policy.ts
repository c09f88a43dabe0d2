/**
 * The access policy, as pure data and functions: who may do what in a project. Everything that
 * decides access (the /v2 surface, the token endpoint, the management API) asks this module, and
 * docs/security.md's roles table is generated from it (`renderRolesTable`).
 */

export const roles = ['admin', 'maintainer', 'developer', 'tester', 'guest'] as const;
export type Role = (typeof roles)[number];
export const isRole = (value: string): value is Role => (roles as readonly string[]).includes(value);

export const repositoryActions = ['pull', 'push', 'delete'] as const;
export type RepositoryAction = (typeof repositoryActions)[number];
export const isRepositoryAction = (value: string): value is RepositoryAction => (repositoryActions as readonly string[]).includes(value);

/**
 * What can be done inside one project. `promote`: promote an image into the project (the
 * project's stage rules may ask more: see promotionRank); `editProject` covers visibility, stage
 * rules and immutable tags.
 */
export type ProjectPermission = RepositoryAction | 'promote' | 'readMembers' | 'manageMembers' | 'manageRobots' | 'manageWebhooks' | 'editProject' | 'readAudit';
/** What can be done registry-wide. `manageWebhooks`: registry-wide webhook endpoints. */
export type SystemPermission = 'catalog' | 'createProject' | 'manageUsers' | 'manageWebhooks' | 'readAllAudit' | 'manageReplication' | 'manageStorage';

const ALL_PROJECT: readonly ProjectPermission[] = ['pull', 'push', 'delete', 'promote', 'readMembers', 'manageMembers', 'manageRobots', 'manageWebhooks', 'editProject', 'readAudit'];
const ALL_SYSTEM: readonly SystemPermission[] = ['catalog', 'createProject', 'manageUsers', 'manageWebhooks', 'readAllAudit', 'manageReplication', 'manageStorage'];
/**
 * What `auth.mode: none` gives everyone: images (promotion included) and reading. Never what grants or changes access
 * (users, passwords, admin flags, projects and their visibility, members, robots): those need an
 * authenticated account with the right, in every mode, or an anonymous caller on an open registry
 * could plant accounts that outlive a later switch to `token` mode.
 */
export const OPEN_PROJECT: readonly ProjectPermission[] = ['pull', 'push', 'delete', 'promote', 'readMembers', 'readAudit'];
export const OPEN_SYSTEM: readonly SystemPermission[] = ['catalog', 'readAllAudit'];

/** The role table. */
export const rolePermissions: Readonly<Record<Role, readonly ProjectPermission[]>> = {
  admin: ALL_PROJECT,
  maintainer: ['pull', 'push', 'delete', 'promote', 'readMembers', 'readAudit'],
  developer: ['pull', 'push', 'promote', 'readMembers'],
  tester: ['pull', 'promote', 'readMembers'],
  guest: ['pull', 'readMembers'],
};

/**
 * Rank for a stage rule's "minimum role to promote into this project": testers rank above
 * developers here (they pass an image on), so `tester` keeps developers out of `release`.
 */
export const promotionRanks: Readonly<Record<Role, number>> = { guest: 0, developer: 1, tester: 2, maintainer: 3, admin: 4 };

/** A subject's promotion rank in a project: system admins above all; a robot that may push ranks as a developer. */
export function promotionRank(subject: Subject, options: PolicyOptions): number {
  if (options.open || (subject.kind === 'user' && subject.admin)) return promotionRanks.admin + 1;
  if (subject.kind === 'user') return subject.role ? promotionRanks[subject.role] : -1;
  if (subject.kind === 'robot') return subject.actions.includes('push') ? promotionRanks.developer : -1;
  return -1;
}

export type Subject =
  | { kind: 'anonymous' }
  | { kind: 'user'; admin: boolean; role?: Role | undefined }
  | { kind: 'robot'; project: string; actions: readonly RepositoryAction[] };

export interface ProjectFacts {
  name: string;
  exists: boolean;
  public: boolean;
  /** The name is served by the registry mirror (an upstream's proxy project, or a name routed to the default upstream). */
  mirror?: boolean;
}

export interface PolicyOptions {
  /** auth.mode `none`: everyone gets `OPEN_PROJECT` and `OPEN_SYSTEM` (images and reading). */
  open: boolean;
  /** auth.anonymousPull: anyone may pull any repository. */
  anonymousPull: boolean;
}

/** What `subject` may do in `project`. System admins may do everything, even in a project that does not exist yet (a push creates it). */
export function projectPermissions(subject: Subject, project: ProjectFacts, options: PolicyOptions): Set<ProjectPermission> {
  if (subject.kind === 'user' && subject.admin) return new Set(ALL_PROJECT);
  const granted = new Set<ProjectPermission>(options.open ? OPEN_PROJECT : []);
  if (options.anonymousPull || (project.exists && project.public)) granted.add('pull');
  // Mirrored public images are for everyone who may use the registry; they are read-only anyway.
  if (project.mirror && subject.kind !== 'anonymous') granted.add('pull');
  if (!project.exists) return granted;
  if (subject.kind === 'user' && subject.role) for (const p of rolePermissions[subject.role]) granted.add(p);
  if (subject.kind === 'robot' && subject.project === project.name) {
    for (const a of subject.actions) granted.add(a);
    if (subject.actions.includes('push')) granted.add('promote');
  }
  return granted;
}

export function systemPermissions(subject: Subject, options: PolicyOptions): Set<SystemPermission> {
  if (subject.kind === 'user' && subject.admin) return new Set(ALL_SYSTEM);
  if (options.open) return new Set(OPEN_SYSTEM);
  // The catalog is filtered per repository, so any identity may ask for it.
  if (subject.kind !== 'anonymous' || options.anonymousPull) return new Set(['catalog']);
  return new Set();
}

export type Decision = 'allow' | 'unauthorized' | 'denied';

/** The answer to a refused request: 401 when logging in could help, 403 when it could not. */
export function decide(subject: Subject, allowed: boolean): Decision {
  if (allowed) return 'allow';
  return subject.kind === 'anonymous' ? 'unauthorized' : 'denied';
}

/** Columns of the roles table: what a request needs. */
export const matrixActions = [
  { key: 'pull', label: 'pull', needs: { project: 'pull' } },
  { key: 'push', label: 'push', needs: { project: 'push' } },
  { key: 'delete', label: 'delete', needs: { project: 'delete' } },
  { key: 'promote', label: 'promote into', needs: { project: 'promote' } },
  { key: 'tagList', label: 'tag list', needs: { project: 'pull' } },
  { key: 'catalog', label: 'catalog', needs: { system: 'catalog' } },
  { key: 'readMembers', label: 'list members', needs: { project: 'readMembers' } },
  { key: 'manageMembers', label: 'manage members', needs: { project: 'manageMembers' } },
  { key: 'manageRobots', label: 'manage robots', needs: { project: 'manageRobots' } },
  { key: 'manageWebhooks', label: 'manage webhooks', needs: { project: 'manageWebhooks' } },
  { key: 'readAudit', label: 'project audit', needs: { project: 'readAudit' } },
  { key: 'createProject', label: 'create project', needs: { system: 'createProject' } },
  { key: 'manageUsers', label: 'manage users', needs: { system: 'manageUsers' } },
  { key: 'manageReplication', label: 'manage replication', needs: { system: 'manageReplication' } },
  { key: 'manageStorage', label: 'run GC, set quotas', needs: { system: 'manageStorage' } },
] as const satisfies ReadonlyArray<{ key: string; label: string; needs: { project: ProjectPermission } | { system: SystemPermission } }>;

export type MatrixActionKey = (typeof matrixActions)[number]['key'];

export const matrixSubjects = [
  { key: 'systemAdmin', label: 'system admin', subject: { kind: 'user', admin: true } },
  ...roles.map((role) => ({ key: role, label: `project ${role}`, subject: { kind: 'user' as const, admin: false, role } })),
  { key: 'robotPullPush', label: 'robot (pull, push)', subject: { kind: 'robot', project: 'team', actions: ['pull', 'push'] } },
  { key: 'nonMember', label: 'other user', subject: { kind: 'user', admin: false } },
  { key: 'anonymous', label: 'anonymous', subject: { kind: 'anonymous' } },
] as const satisfies ReadonlyArray<{ key: string; label: string; subject: Subject }>;

export type MatrixSubjectKey = (typeof matrixSubjects)[number]['key'];

/** The outcome of every matrix action for `subject` on `project`. */
function matrixCells(subject: Subject, project: ProjectFacts, options: PolicyOptions): Record<MatrixActionKey, Decision> {
  const inProject = projectPermissions(subject, project, options);
  const inSystem = systemPermissions(subject, options);
  const cells = {} as Record<MatrixActionKey, Decision>;
  for (const action of matrixActions) {
    const needs: { project?: ProjectPermission; system?: SystemPermission } = action.needs;
    const allowed = needs.project ? inProject.has(needs.project) : inSystem.has(needs.system!);
    cells[action.key] = decide(subject, allowed);
  }
  return cells;
}

/** The outcome for each subject × action on an existing private project `team` (auth mode basic or token). */
export function roleMatrix(isPublic = false): Array<{ subject: MatrixSubjectKey; label: string; cells: Record<MatrixActionKey, Decision> }> {
  const options: PolicyOptions = { open: false, anonymousPull: false };
  const project: ProjectFacts = { name: 'team', exists: true, public: isPublic };
  return matrixSubjects.map(({ key, label, subject }) => ({ subject: key, label, cells: matrixCells(subject, project, options) }));
}

/** What an anonymous caller gets on an existing private project, per auth mode (docs/security.md's threat model). */
export const anonymousByMode: ReadonlyArray<{ label: string; options: PolicyOptions }> = [
  { label: '`none`', options: { open: true, anonymousPull: false } },
  { label: '`basic`, `token`', options: { open: false, anonymousPull: false } },
  { label: '`basic`, `token` + `anonymousPull`', options: { open: false, anonymousPull: true } },
];

const mark: Record<Decision, string> = { allow: 'yes', unauthorized: '401', denied: '403' };
const tableHead = (first: string) => [`| ${first} | ${matrixActions.map((a) => a.label).join(' | ')} |`, `|---|${matrixActions.map(() => '---').join('|')}|`];
const tableRow = (label: string, cells: Record<MatrixActionKey, Decision>) => `| ${label} | ${matrixActions.map((a) => mark[cells[a.key]]).join(' | ')} |`;

/** The roles table of docs/security.md, generated (a test checks the doc holds exactly this). */
export function renderRolesTable(isPublic = false): string {
  const rows = roleMatrix(isPublic).map((row) => tableRow(row.label, row.cells));
  return [...tableHead(`${isPublic ? 'public' : 'private'} project`), ...rows].join('\n');
}

/** The anonymous caller's table of docs/security.md, generated like the roles tables. */
export function renderAnonymousTable(): string {
  const project: ProjectFacts = { name: 'team', exists: true, public: false };
  const rows = anonymousByMode.map(({ label, options }) => tableRow(label, matrixCells({ kind: 'anonymous' }, project, options)));
  return [...tableHead('anonymous, by auth mode'), ...rows].join('\n');
}
