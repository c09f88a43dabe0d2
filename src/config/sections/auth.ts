import { z } from 'zod';
import { integer, pathString } from './common.js';

export const authModes = ['none', 'basic', 'token'] as const;

const tokenSchema = z
  .object({
    issuer: z.string().min(1).default('wharf').meta({ description: 'JWT "iss" claim' }),
    service: z.string().min(1).default('wharf').meta({ description: 'service name clients ask tokens for' }),
    expirySeconds: integer(1, 86400).default(300).meta({ description: 'token lifetime in seconds' }),
    signingKey: pathString('PEM private key that signs tokens (absent: generated and stored by Wharf)')
      .optional()
      .meta({ example: '/etc/wharf/token-key.pem' }),
  })
  .strict();

const loginRateLimitSchema = z
  .object({
    maxFailures: integer(1).default(10).meta({ description: 'failed logins allowed per user and address in a window' }),
    windowSeconds: integer(1).default(60).meta({ description: 'length of the window in seconds' }),
  })
  .strict();

/**
 * `auth`: who may do what. The initial administrator's name and password are not config keys:
 * the app reads them from WHARF_ADMIN_USER and WHARF_ADMIN_PASSWORD.
 */
export const authSchema = z
  .object({
    mode: z
      .enum(authModes)
      .default('none')
      .meta({ description: 'none: open registry; basic: HTTP basic auth; token: Docker bearer tokens' }),
    realm: z.string().min(1).default('wharf').meta({ description: 'realm announced in WWW-Authenticate' }),
    htpasswd: pathString('htpasswd file of extra users (bcrypt entries)')
      .optional()
      .meta({ example: '/etc/wharf/htpasswd' }),
    token: tokenSchema.prefault({}),
    loginRateLimit: loginRateLimitSchema.prefault({}),
    auditRetentionDays: integer(1).default(90).meta({ description: 'audit events older than this are deleted' }),
    auditPulls: z
      .enum(['hourly', 'each'])
      .default('hourly')
      .meta({ description: 'hourly: one audit row per manifest, reference, identity and hour, with a count; each: one row per pull' }),
    anonymousPull: z.boolean().default(false).meta({ description: 'allow pulls without credentials' }),
  })
  .strict();
