import type { AuthServices } from '../../auth/create-auth.js';
import type { callerResolver } from './caller.js';

/** What the management API's route modules share. */
export interface ApiContext {
  auth: AuthServices;
  callers: ReturnType<typeof callerResolver>;
}

export const SESSION_SECONDS = 12 * 3600;

/** JSON schema bits reused across routes. */
export const schemas = {
  error: {
    type: 'object',
    properties: { errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, detail: {} } } } },
  },
  user: { type: 'object', properties: { name: { type: 'string' }, admin: { type: 'boolean' }, createdAt: { type: 'string', format: 'date-time' } } },
  project: { type: 'object', properties: { name: { type: 'string' }, public: { type: 'boolean' }, createdAt: { type: 'string', format: 'date-time' } } },
  member: { type: 'object', properties: { username: { type: 'string' }, role: { type: 'string', enum: ['admin', 'maintainer', 'developer', 'tester', 'guest'] }, since: { type: 'string' } } },
  robot: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      project: { type: 'string' },
      actions: { type: 'array', items: { type: 'string', enum: ['pull', 'push', 'delete'] } },
      description: { type: ['string', 'null'] },
      createdBy: { type: 'string' },
      createdAt: { type: 'string' },
      expiresAt: { type: ['string', 'null'] },
      revokedAt: { type: ['string', 'null'] },
    },
  },
  nameParam: (...names: string[]) => ({
    type: 'object',
    required: names,
    properties: Object.fromEntries(names.map((n) => [n, { type: 'string', minLength: 1, maxLength: 256 }])),
  }),
} as const;
