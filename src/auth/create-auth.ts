import type { WharfConfig } from '../config/index.js';
import type { MetadataStore } from '../metadata/store.js';
import { accounts, type Accounts } from './accounts.js';
import { auditLog, type AuditLog } from './audit-log.js';
import { authenticator, type Authenticator } from './authenticator.js';
import { htpasswdFile } from './htpasswd.js';
import { loginLimiter } from './login-limiter.js';
import { permissions, type MirrorNames, type Permissions } from './permissions.js';
import { loadSigningKey, tokenService, type TokenService } from './tokens.js';
import type { SessionStore } from '../metadata/sessions.js';

export type AuthConfig = WharfConfig['auth'];

/** Everything authentication and authorization needs, built once by the composition root. */
export interface AuthServices {
  config: AuthConfig;
  authenticator: Authenticator;
  permissions: Permissions;
  accounts: Accounts;
  audit: AuditLog;
  tokens: TokenService;
  sessions: SessionStore;
  now: () => number;
}

export async function createAuth(options: { config: AuthConfig; metadata: MetadataStore; now: () => number; onError: (error: unknown) => void; mirror?: MirrorNames }): Promise<AuthServices> {
  const { config, metadata, now } = options;
  const audit = auditLog({ store: metadata.audit, now, retentionDays: config.auditRetentionDays, pulls: config.auditPulls, onError: options.onError });
  const htpasswd = config.htpasswd ? htpasswdFile(config.htpasswd, now) : undefined;
  const limiter = loginLimiter({ store: metadata.authState, maxFailures: config.loginRateLimit.maxFailures, windowSeconds: config.loginRateLimit.windowSeconds, now });
  const key = await loadSigningKey({ pemFile: config.token.signingKey, store: metadata.authState, now });
  return {
    config,
    authenticator: authenticator({ users: metadata.users, robots: metadata.robots, htpasswd, limiter, audit, now }),
    permissions: permissions({ projects: metadata.projects, options: { open: config.mode === 'none', anonymousPull: config.anonymousPull }, now, ...(options.mirror ? { mirror: options.mirror } : {}) }),
    accounts: accounts({ metadata, audit, now, userExists: async (name) => (await htpasswd?.hashFor(name)) !== undefined }),
    audit,
    tokens: tokenService({ key, issuer: config.token.issuer, service: config.token.service, expirySeconds: config.token.expirySeconds, now }),
    sessions: metadata.sessions,
    now,
  };
}
