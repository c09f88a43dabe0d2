import type { FastifyRequest } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import type { Principal } from '../../auth/principal.js';
import type { ProjectFilter } from '../../registry/browse.js';
import { projectOf } from '../../oci/names.js';
import { auditRegistryEvent } from '../auth/audit-event.js';
import { checkCsrf, needProject, type callerResolver } from './caller.js';
import type { RegistryReadAccess } from './registry-read-routes.js';

/** The projects `principal` may pull from: all, or a list. */
export async function pullFilterOf(auth: AuthServices, principal: Principal): Promise<ProjectFilter> {
  if (auth.config.mode === 'none' || principal.admin || auth.config.anonymousPull) return { all: true };
  const visible = await auth.accounts.listProjects({ name: principal.kind === 'user' ? principal.name : '', admin: false });
  const names = visible.map((p) => p.name);
  if (principal.robot && !names.includes(principal.robot.project) && principal.robot.actions.includes('pull')) names.push(principal.robot.project);
  return { projects: names };
}

/** `filter` as a test on project names. */
export const canSeeProject = (filter: ProjectFilter) => (project: string): boolean => 'all' in filter || filter.projects.includes(project);

/** The console's registry endpoints, decided by the same policy as /v2 for the API caller. */
export function registryReadAccess(auth: AuthServices, callers: ReturnType<typeof callerResolver>): RegistryReadAccess {
  return {
    async pullFilter(request) {
      return pullFilterOf(auth, (await callers.of(request)).principal);
    },
    async requirePull(request, repository) {
      await needProject(auth, await callers.of(request), projectOf(repository), 'pull');
    },
    async requireDelete(request, repository) {
      const caller = await callers.of(request);
      checkCsrf(request, caller);
      await needProject(auth, caller, projectOf(repository), 'delete');
    },
    record(request: FastifyRequest, event) {
      void callers.of(request).then((caller) => auditRegistryEvent(auth.audit, request, caller.principal.name, event, { via: 'console' }));
    },
  };
}
