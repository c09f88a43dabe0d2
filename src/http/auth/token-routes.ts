import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import { anonymous, type Principal } from '../../auth/principal.js';
import { parseScopes, type AccessEntry } from '../../auth/scopes.js';
import { RegistryError } from '../../errors.js';
import { isValidRepositoryName, projectOf } from '../../oci/names.js';
import { ociErrorHandler } from '../error-envelope.js';
import { unauthorized, type ChallengeOptions } from './challenge.js';
import { credentialsOf, nameRequest, sourceOf } from './credentials.js';

/**
 * What `principal` gets out of the requested scopes: the intersection with what it may do. A
 * scope whose name is no valid repository name (`proja/../projb/x`) names nothing and gets nothing:
 * its first component is not the project it would reach once a proxy normalised the path.
 */
export async function grantScopes(auth: AuthServices, principal: Principal, requested: readonly string[]): Promise<AccessEntry[]> {
  const granted: AccessEntry[] = [];
  for (const scope of parseScopes(requested)) {
    if (scope.type === 'registry') {
      if (auth.permissions.system(principal).has('catalog')) granted.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      continue;
    }
    if (!isValidRepositoryName(scope.name)) continue;
    const allowed = await auth.permissions.inProject(principal, projectOf(scope.name));
    granted.push({ type: 'repository', name: scope.name, actions: scope.actions.filter((a) => allowed.has(a)) });
  }
  return granted;
}

/**
 * The Docker token endpoint: `GET /token?service=…&scope=…` with Basic credentials or none
 * (anonymous), and the OAuth2 form `POST /token` (grant_type=password or refresh_token) that
 * containerd and docker use. It never fails for asking too much: it grants less.
 */
export function tokenRoutes(auth: AuthServices, options: { publicUrl?: string | undefined }) {
  const challenge: ChallengeOptions = { mode: 'basic', realm: auth.config.realm, service: auth.config.token.service, publicUrl: options.publicUrl };

  async function login(request: FastifyRequest, name: string, secret: string): Promise<Principal> {
    const principal = await auth.authenticator.login(name, secret, sourceOf(request), 'token');
    if (!principal) throw unauthorized(request, challenge, undefined, 'invalid username or password');
    nameRequest(request, principal.name);
    return principal;
  }

  async function refreshed(request: FastifyRequest, token: string): Promise<Principal> {
    const { subject, issuedAt } = await auth.tokens.verifyRefresh(token);
    const principal = await auth.authenticator.lookup(subject);
    // A new password voids the refresh tokens issued before it.
    if (!principal || Math.floor((principal.passwordChangedAt ?? 0) / 1000) * 1000 > issuedAt) {
      throw new RegistryError('UNAUTHORIZED', 'the refresh token is no longer valid');
    }
    nameRequest(request, principal.name);
    return principal;
  }

  /** A client asking for another service's token is refused: it would get one Wharf's clients trust. */
  function checkService(service: string | null): void {
    if (service !== null && service !== auth.config.token.service) {
      throw new RegistryError('INVALID_REQUEST', `this endpoint issues tokens for service "${auth.config.token.service}" only`, {
        detail: { service: service.slice(0, 200) },
      });
    }
  }

  async function answer(principal: Principal, scopes: string[], withRefresh: boolean) {
    const access = await grantScopes(auth, principal, scopes);
    const issued = await auth.tokens.issue(principal.name, access);
    const body: Record<string, unknown> = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
    };
    if (withRefresh && principal.kind !== 'anonymous') body.refresh_token = await auth.tokens.issueRefresh(principal.name);
    return body;
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.setErrorHandler(ociErrorHandler);
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 65536 }, (_request, body, done) => {
      done(null, new URLSearchParams(String(body)));
    });

    app.get('/token', async (request, reply) => {
      const query = new URLSearchParams((request.raw.url ?? '').split('?')[1] ?? '');
      checkService(query.get('service'));
      const credentials = credentialsOf(request);
      if (credentials?.kind === 'bearer') throw unauthorized(request, challenge, undefined, 'use Basic credentials or none');
      const principal = credentials ? await login(request, credentials.name, credentials.secret) : anonymous;
      reply.header('Cache-Control', 'no-store');
      return answer(principal, query.getAll('scope'), query.get('offline_token') === 'true');
    });

    app.post('/token', async (request, reply) => {
      const form = request.body instanceof URLSearchParams ? request.body : undefined;
      if (!form) throw new RegistryError('INVALID_REQUEST', 'expected an application/x-www-form-urlencoded body');
      checkService(form.get('service'));
      const grant = form.get('grant_type');
      let principal: Principal;
      if (grant === 'password') principal = await login(request, form.get('username') ?? '', form.get('password') ?? '');
      else if (grant === 'refresh_token') principal = await refreshed(request, form.get('refresh_token') ?? '');
      else throw new RegistryError('INVALID_REQUEST', 'grant_type must be password or refresh_token');
      const scopes = form.getAll('scope');
      reply.header('Cache-Control', 'no-store');
      const body = await answer(principal, scopes, grant === 'password' || form.get('access_type') === 'offline');
      if (grant === 'refresh_token') body.refresh_token = form.get('refresh_token');
      return { ...body, scope: scopes.join(' ') };
    });
  };
}
