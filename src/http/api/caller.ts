import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import type { ProjectPermission, SystemPermission } from '../../auth/policy.js';
import { anonymous, type Principal } from '../../auth/principal.js';
import { constantTimeEqual, sha256Hex } from '../../auth/secrets.js';
import { RegistryError } from '../../errors.js';
import { credentialsOf, nameRequest, sourceOf } from '../auth/credentials.js';
import type { Actor } from '../../auth/accounts.js';

export const SESSION_COOKIE = 'wharf_session';
export const CSRF_COOKIE = 'wharf_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Who calls the management API, and how they proved it. */
export interface Caller {
  principal: Principal;
  via: 'anonymous' | 'basic' | 'bearer' | 'session';
  /** Cookie sessions: the stored session's hash and CSRF token. */
  session?: { idHash: string; csrfToken: string };
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

const unauthenticated = (message = 'authentication required') => new RegistryError('UNAUTHORIZED', message);

/**
 * Resolves and checks the caller of an API request: Authorization (Basic, or a bearer token from
 * /token or POST /api/v1/tokens) first, else the session cookie. No WWW-Authenticate is sent:
 * browsers would pop up their own login dialog.
 */
export function callerResolver(auth: AuthServices) {
  const memo = new WeakMap<FastifyRequest, Caller>();

  async function resolve(request: FastifyRequest): Promise<Caller> {
    const credentials = credentialsOf(request);
    if (credentials?.kind === 'basic') {
      const principal = await auth.authenticator.login(credentials.name, credentials.secret, sourceOf(request), 'api');
      if (!principal) throw unauthenticated('invalid username or password');
      return { principal, via: 'basic' };
    }
    if (credentials?.kind === 'bearer') {
      const claims = await auth.tokens.verify(credentials.token);
      const principal = claims.subject === '' ? anonymous : await auth.authenticator.lookup(claims.subject);
      if (!principal) throw unauthenticated('the token names an unknown, expired or revoked account');
      return { principal, via: 'bearer' };
    }
    const cookie = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (cookie) {
      const idHash = sha256Hex(cookie);
      const session = await auth.sessions.get(idHash, auth.now());
      const principal = session ? await auth.authenticator.lookup(session.username) : undefined;
      if (session && principal) return { principal, via: 'session', session: { idHash, csrfToken: session.csrfToken } };
    }
    return { principal: anonymous, via: 'anonymous' };
  }

  return {
    async of(request: FastifyRequest): Promise<Caller> {
      const known = memo.get(request);
      if (known) return known;
      const caller = await resolve(request);
      memo.set(request, caller);
      if (caller.principal.name) nameRequest(request, caller.principal.name);
      return caller;
    },
  };
}

/** Cookie-authenticated changes must echo the session's CSRF token in X-CSRF-Token (double submit). */
export function checkCsrf(request: FastifyRequest, caller: Caller): void {
  if (caller.via !== 'session' || !caller.session) return;
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
  const header = request.headers[CSRF_HEADER];
  if (typeof header !== 'string' || !constantTimeEqual(header, caller.session.csrfToken)) {
    throw new RegistryError('DENIED', 'missing or wrong X-CSRF-Token header');
  }
}

export function actorOf(request: FastifyRequest, caller: Caller): Actor {
  return { name: caller.principal.name || 'anonymous', source: sourceOf(request) };
}

/** Throws 401 for anonymous callers and 403 for others unless `allowed`. */
export function need(caller: Caller, allowed: boolean): void {
  if (allowed) return;
  if (caller.principal.kind === 'anonymous') throw unauthenticated();
  throw new RegistryError('DENIED', 'requested access to the resource is denied');
}

export async function needProject(auth: AuthServices, caller: Caller, project: string, permission: ProjectPermission): Promise<void> {
  need(caller, (await auth.permissions.inProject(caller.principal, project)).has(permission));
}

export function needSystem(auth: AuthServices, caller: Caller, permission: SystemPermission): void {
  need(caller, auth.permissions.system(caller.principal).has(permission));
}

export function setCookie(reply: FastifyReply, request: FastifyRequest, name: string, value: string, options: { httpOnly: boolean; maxAgeSeconds: number }): void {
  const parts = [`${name}=${value}`, 'Path=/', 'SameSite=Strict', `Max-Age=${options.maxAgeSeconds}`];
  if (options.httpOnly) parts.push('HttpOnly');
  if (request.protocol === 'https') parts.push('Secure');
  // Fastify appends repeated set-cookie headers.
  reply.header('set-cookie', parts.join('; '));
}
