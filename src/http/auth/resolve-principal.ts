import type { FastifyRequest } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import { anonymous, type Principal } from '../../auth/principal.js';
import type { AccessEntry } from '../../auth/scopes.js';
import type { ChallengeOptions } from './challenge.js';
import { unauthorized } from './challenge.js';
import { credentialsOf, nameRequest, sourceOf } from './credentials.js';

export interface Resolved {
  principal: Principal;
  /** Token mode: what the bearer token grants (undefined for other credentials). */
  access?: AccessEntry[];
  /** Credentials were presented and checked (an anonymous bearer token counts). */
  authenticated: boolean;
}

/**
 * Checks a request's Authorization header once (memoised per request). Wrong credentials and
 * invalid tokens are a 401 with the mode's challenge; no credentials mean anonymous.
 */
export function principalResolver(auth: AuthServices, challenge: ChallengeOptions) {
  const memo = new WeakMap<FastifyRequest, Promise<Resolved>>();

  async function resolve(request: FastifyRequest): Promise<Resolved> {
    const credentials = credentialsOf(request);
    if (!credentials) return { principal: anonymous, authenticated: false };
    if (credentials.kind === 'basic') {
      const principal = await auth.authenticator.login(credentials.name, credentials.secret, sourceOf(request), 'basic');
      if (!principal) throw unauthorized(request, challenge, undefined, 'invalid username or password');
      nameRequest(request, principal.name);
      return { principal, authenticated: true };
    }
    const claims = await auth.tokens.verify(credentials.token).catch(() => {
      throw unauthorized(request, challenge, undefined, 'invalid or expired token');
    });
    if (claims.subject === '') return { principal: anonymous, access: claims.access, authenticated: true };
    const principal = await auth.authenticator.lookup(claims.subject);
    if (!principal) throw unauthorized(request, challenge, undefined, 'the token names an unknown, expired or revoked account');
    nameRequest(request, principal.name);
    return { principal, access: claims.access, authenticated: true };
  }

  return (request: FastifyRequest): Promise<Resolved> => {
    let resolved = memo.get(request);
    if (!resolved) {
      resolved = resolve(request);
      memo.set(request, resolved);
    }
    return resolved;
  };
}
