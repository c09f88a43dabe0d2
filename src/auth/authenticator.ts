import { isRegistryError } from '../errors.js';
import { LruCache } from '../lib/lru.js';
import type { RobotRecord, RobotStore } from '../metadata/robots.js';
import type { UserStore } from '../metadata/users.js';
import type { AuditLog } from './audit-log.js';
import type { HtpasswdSource } from './htpasswd.js';
import type { LoginLimiter } from './login-limiter.js';
import { DUMMY_HASH, verifyPassword } from './passwords.js';
import { isRepositoryAction } from './policy.js';
import { ROBOT_PREFIX, type Principal } from './principal.js';
import { constantTimeEqual, sha256Hex } from './secrets.js';

/** Checks names and secrets (users in the database, the htpasswd file, robots). */
export interface Authenticator {
  /**
   * Checks `name`/`secret` from `source` (an address). Returns the principal, or undefined for
   * wrong credentials; throws TOOMANYREQUESTS when rate-limited. Logins are audited (`via` says
   * where: basic, token, session).
   */
  login(name: string, secret: string, source: string, via: string): Promise<Principal | undefined>;
  /** The current state of a named principal (for tokens and sessions): undefined when gone, expired or revoked. */
  lookup(name: string): Promise<Principal | undefined>;
}

export interface AuthenticatorDeps {
  users: UserStore;
  robots: RobotStore;
  htpasswd?: HtpasswdSource | undefined;
  limiter: LoginLimiter;
  audit: AuditLog;
  now: () => number;
}

export function authenticator(deps: AuthenticatorDeps): Authenticator {
  // Credentials checked recently, keyed by a hash of name, secret and the stored hash: basic auth
  // sends the password on every request and bcrypt costs ~0.1 s. A changed password misses.
  const verified = new LruCache<string, true>(10_000, () => 1);

  async function check(name: string, secret: string): Promise<{ principal?: Principal; cacheKey?: string }> {
    if (name.startsWith(ROBOT_PREFIX)) {
      const stored = await deps.robots.get(name);
      const ok = stored !== undefined && constantTimeEqual(sha256Hex(secret), stored.secretHash);
      const robot = ok ? robotPrincipal(stored) : undefined;
      return robot ? { principal: robot, cacheKey: sha256Hex(`${name}\0${secret}\0${stored!.secretHash}`) } : {};
    }
    const user = await deps.users.get(name);
    const hash = user?.passwordHash ?? (await deps.htpasswd?.hashFor(name));
    const cacheKey = sha256Hex(`${name}\0${secret}\0${hash ?? ''}`);
    const ok = hash !== undefined && (verified.get(cacheKey) === true || (await verifyPassword(secret, hash)));
    if (hash === undefined) await verifyPassword(secret, DUMMY_HASH);
    if (!ok) return {};
    const principal: Principal = user
      ? { kind: 'user', name, admin: user.admin, passwordChangedAt: user.passwordChangedAt }
      : { kind: 'user', name, admin: false, passwordChangedAt: 0 };
    return { principal, cacheKey };
  }

  function robotPrincipal(robot: RobotRecord | undefined): Principal | undefined {
    if (!robot || robot.revokedAt !== null || (robot.expiresAt !== null && robot.expiresAt <= deps.now())) return undefined;
    return { kind: 'robot', name: robot.name, admin: false, robot: { project: robot.project, actions: robot.actions.filter(isRepositoryAction) } };
  }

  return {
    async login(name, secret, source, via) {
      const robotProject = name.startsWith(ROBOT_PREFIX) ? name.slice(ROBOT_PREFIX.length).split('+', 1)[0] : undefined;
      const action = robotProject !== undefined ? 'robot.login' : 'login';
      const base = { actor: name, source, action, project: robotProject, detail: { via } };
      try {
        await deps.limiter.check(name, source);
      } catch (error) {
        if (isRegistryError(error)) deps.audit.record({ ...base, result: 'rate-limited' });
        throw error;
      }
      const { principal, cacheKey } = await check(name, secret);
      if (!principal || !cacheKey) {
        await deps.limiter.failed(name, source);
        deps.audit.record({ ...base, result: 'failure' });
        return undefined;
      }
      if (verified.get(cacheKey) !== true) {
        verified.set(cacheKey, true);
        await deps.limiter.succeeded(name);
        deps.audit.record({ ...base, result: 'success' });
      }
      return principal;
    },
    async lookup(name) {
      if (name.startsWith(ROBOT_PREFIX)) return robotPrincipal(await deps.robots.get(name));
      const user = await deps.users.get(name);
      if (user) return { kind: 'user', name, admin: user.admin, passwordChangedAt: user.passwordChangedAt };
      if (deps.htpasswd && (await deps.htpasswd.hashFor(name)) !== undefined) return { kind: 'user', name, admin: false, passwordChangedAt: 0 };
      return undefined;
    },
  };
}
