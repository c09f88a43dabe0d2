import type { FastifyRequest } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import { decide, type RepositoryAction } from '../../auth/policy.js';
import { subjectOf } from '../../auth/principal.js';
import { formatScope } from '../../auth/scopes.js';
import { projectOf } from '../../oci/names.js';
import type { AccessScope, RegistryEvent, V2Access } from '../access.js';
import { denied, unauthorized, type ChallengeOptions } from './challenge.js';
import { auditRegistryEvent } from './audit-event.js';
import { sourceOf } from './credentials.js';
import { principalResolver, type Resolved } from './resolve-principal.js';

/**
 * `V2Access` for every auth mode. `none`: everything is allowed (a push still registers its
 * project). `basic`: credentials on every request. `token`: a bearer JWT from /token whose
 * `access` claim must cover the request; when it does not but the account may do it, the client
 * gets a 401 challenge naming the scope (it fetches a fresh token), else 403 DENIED.
 */
export function v2Access(auth: AuthServices, options: { publicUrl?: string | undefined }): V2Access {
  const mode = auth.config.mode;
  const challenge: ChallengeOptions = {
    mode: mode === 'basic' ? 'basic' : 'token',
    realm: auth.config.realm,
    service: auth.config.token.service,
    publicUrl: options.publicUrl,
  };
  const resolve = principalResolver(auth, challenge);

  const tokenGrants = (resolved: Resolved, type: string, name: string, actions: readonly string[]) => {
    if (mode !== 'token') return true;
    const granted = new Set((resolved.access ?? []).filter((e) => e.type === type && e.name === name).flatMap((e) => e.actions));
    return actions.every((a) => granted.has(a) || granted.has('*'));
  };

  async function requireRepository(request: FastifyRequest, repository: string, actions: RepositoryAction[]): Promise<void> {
    const project = projectOf(repository);
    if (mode === 'none') {
      if (actions.includes('push')) await auth.permissions.ensureProject(project);
      return;
    }
    const resolved = await resolve(request);
    const allowed = await auth.permissions.inProject(resolved.principal, project);
    const may = actions.every((a) => allowed.has(a));
    const scope = formatScope('repository', repository, actions);
    if (may && !tokenGrants(resolved, 'repository', repository, actions)) throw unauthorized(request, challenge, scope, 'the token does not grant this access');
    if (!may) {
      if (actions.includes('push') || actions.includes('delete')) {
        auth.audit.record({ actor: resolved.principal.name || 'anonymous', source: sourceOf(request), action: actions.includes('delete') ? 'delete' : 'push', project, repository, result: 'denied' });
      }
      const decision = decide(subjectOf(resolved.principal, undefined), false);
      throw decision === 'unauthorized' ? unauthorized(request, challenge, scope) : denied();
    }
    if (actions.includes('push')) await auth.permissions.ensureProject(project);
  }

  return {
    async require(request, scope: AccessScope) {
      switch (scope.kind) {
        case 'base': {
          if (mode === 'none') return;
          const resolved = await resolve(request);
          if (!resolved.authenticated) throw unauthorized(request, challenge);
          return;
        }
        case 'catalog': {
          if (mode === 'none') return;
          const resolved = await resolve(request);
          const may = auth.permissions.system(resolved.principal).has('catalog');
          const catalogScope = 'registry:catalog:*';
          if (may && !tokenGrants(resolved, 'registry', 'catalog', ['*'])) throw unauthorized(request, challenge, catalogScope);
          if (!may) throw decide(subjectOf(resolved.principal, undefined), false) === 'unauthorized' ? unauthorized(request, challenge, catalogScope) : denied();
          return;
        }
        case 'repository':
          return requireRepository(request, scope.repository, scope.actions);
      }
    },
    async canPull(request, repository) {
      if (mode === 'none') return true;
      const resolved = await resolve(request).catch(() => undefined);
      if (!resolved) return false;
      return (await auth.permissions.inProject(resolved.principal, projectOf(repository))).has('pull');
    },
    record(request, event: RegistryEvent) {
      // Blob transfers are the parts of a manifest's push or pull: the manifest is the event.
      const isManifest = event.reference !== undefined || event.mediaType !== undefined;
      if (event.action === 'mount' || ((event.action === 'pull' || event.action === 'push') && !isManifest)) return;
      const audit = (resolved: Resolved | undefined) => {
        const detail = { ...(resolved?.principal.kind === 'robot' ? { robot: true } : {}), ...(event.mirror ? { mirror: event.mirror } : {}) };
        const extra = Object.keys(detail).length > 0 ? detail : undefined;
        const actor = resolved?.principal.name || 'anonymous';
        // Pulls are counted (per manifest, identity and hour), not logged one row each.
        if (event.action === 'pull' && event.digest !== undefined) {
          const { repository, digest } = event;
          auth.audit.recordPull({ actor, source: sourceOf(request), project: projectOf(repository), repository, reference: event.reference ?? digest, digest, detail: extra });
        } else {
          auditRegistryEvent(auth.audit, request, resolved?.principal.name ?? '', event, extra);
        }
      };
      if (mode === 'none') audit(undefined);
      else void resolve(request).then(audit, () => audit(undefined));
    },
  };
}
