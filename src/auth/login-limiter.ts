import { RegistryError } from '../errors.js';
import type { AuthStateStore } from '../metadata/auth-state.js';

/**
 * Failed logins counted per account and per source address in the database (so the limit holds
 * across instances), in fixed windows. Once either count reaches `maxFailures`, further attempts
 * in that window are refused with 429 before the secret is even checked.
 */
export interface LoginLimiter {
  /** Throws TOOMANYREQUESTS (with Retry-After) when `name` or `source` is over the limit. */
  check(name: string, source: string): Promise<void>;
  failed(name: string, source: string): Promise<void>;
  succeeded(name: string): Promise<void>;
}

export function loginLimiter(options: { store: AuthStateStore; maxFailures: number; windowSeconds: number; now: () => number }): LoginLimiter {
  const windowMs = options.windowSeconds * 1000;
  const keys = (name: string, source: string) => [`user:${name}`, `addr:${source}`];
  return {
    async check(name, source) {
      for (const key of keys(name, source)) {
        const now = options.now();
        const { count, windowStart } = await options.store.failures(key, now, windowMs);
        if (count >= options.maxFailures) {
          const retryAfter = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
          throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins, try again later', { headers: { 'Retry-After': String(retryAfter) } });
        }
      }
    },
    async failed(name, source) {
      for (const key of keys(name, source)) await options.store.addFailure(key, options.now(), windowMs);
    },
    async succeeded(name) {
      await options.store.clearFailures(`user:${name}`);
    },
  };
}
