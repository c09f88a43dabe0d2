import type { AuthServices } from '../../auth/create-auth.js';
import type { callerResolver } from './caller.js';
import { nameParam, ref } from './schemas.js';

/** What the management API's route modules share. */
export interface ApiContext {
  auth: AuthServices;
  callers: ReturnType<typeof callerResolver>;
}

export const SESSION_SECONDS = 12 * 3600;

/** JSON schema bits reused across routes (the named ones are in ./schemas.ts). */
export const schemas = {
  error: ref('Errors'),
  user: ref('User'),
  project: ref('Project'),
  member: ref('Member'),
  robot: ref('Robot'),
  nameParam,
} as const;
