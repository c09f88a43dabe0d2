import type { ProjectStore } from '../metadata/projects.js';
import {
  isRole,
  projectPermissions,
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
  /** Creates `project` (private) unless it exists: a system admin's first push. */
  ensureProject(project: string): Promise<void>;
}

export function permissions(deps: { projects: ProjectStore; options: PolicyOptions; now: () => number }): Permissions {
  const known = new Set<string>();
  return {
    async inProject(principal, project) {
      const stored = await deps.projects.get(project);
      const role = principal.kind === 'user' && stored ? await deps.projects.role(project, principal.name) : undefined;
      const facts = { name: project, exists: stored !== undefined, public: stored?.public ?? false };
      return projectPermissions(subjectOf(principal, role !== undefined && isRole(role) ? role : undefined), facts, deps.options);
    },
    system(principal) {
      return systemPermissions(subjectOf(principal, undefined), deps.options);
    },
    async ensureProject(project) {
      // A cache of names known to exist: a push touches this on every request.
      if (known.has(project)) return;
      await deps.projects.create({ name: project, public: false, createdAt: deps.now() });
      if (known.size > 10_000) known.clear();
      known.add(project);
    },
  };
}
