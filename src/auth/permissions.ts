import type { ProjectStore } from '../metadata/projects.js';
import {
  isRole,
  projectPermissions,
  promotionRank,
  systemPermissions,
  type PolicyOptions,
  type ProjectPermission,
  type SystemPermission,
} from './policy.js';
import { subjectOf, type Principal } from './principal.js';

/** The policy applied to stored facts: a principal's role and the project's visibility. */
export interface Permissions {
  inProject(principal: Principal, project: string): Promise<Set<ProjectPermission>>;
  system(principal: Principal): Set<SystemPermission>;
  /** The principal's rank for a project's stage rule (promotionRank) and how to name it in a refusal. */
  promotion(principal: Principal, project: string): Promise<{ rank: number; role: string }>;
  /** Creates `project` (private) unless it exists: a system admin's first push. */
  ensureProject(project: string): Promise<void>;
}

export interface MirrorNames {
  /** Names of the mirror's upstreams: each is a read-only proxy project. */
  projects: ReadonlySet<string>;
  /** A default upstream exists: a name with no local project is pulled through it. */
  hasDefault: boolean;
}

export function permissions(deps: { projects: ProjectStore; options: PolicyOptions; now: () => number; mirror?: MirrorNames }): Permissions {
  return {
    async inProject(principal, project) {
      const stored = await deps.projects.get(project);
      const role = principal.kind === 'user' && stored ? await deps.projects.role(project, principal.name) : undefined;
      const mirror = deps.mirror !== undefined && (deps.mirror.projects.has(project) || (stored === undefined && deps.mirror.hasDefault));
      const facts = { name: project, exists: stored !== undefined, public: stored?.public ?? false, mirror };
      return projectPermissions(subjectOf(principal, role !== undefined && isRole(role) ? role : undefined), facts, deps.options);
    },
    system(principal) {
      return systemPermissions(subjectOf(principal, undefined), deps.options);
    },
    async promotion(principal, project) {
      const stored = principal.kind === 'user' ? await deps.projects.role(project, principal.name) : undefined;
      const role = stored !== undefined && isRole(stored) ? stored : undefined;
      const rank = promotionRank(subjectOf(principal, role), deps.options);
      const label = deps.options.open || principal.admin ? 'a system admin' : principal.kind === 'robot' ? 'a robot' : (role ?? 'not a member');
      return { rank, role: label };
    },
    async ensureProject(project) {
      // A read first (a push calls this on every request); no memory of earlier answers, since
      // another instance may have removed the project since.
      if (await deps.projects.get(project)) return;
      await deps.projects.create({ name: project, public: false, createdAt: deps.now() });
    },
  };
}
