import type { AuthServices } from '../../auth/create-auth.js';
import type { WebhookService } from '../../events/webhooks.js';
import type { ReplicationService } from '../../replication/service.js';
import type { Workflow } from '../../workflow/create-workflow.js';
import type { callerResolver } from './caller.js';
import { nameParam, ref } from './schemas.js';

/** The delivery flow's services, when the composition root provides them. */
export interface DeliveryServices {
  webhooks: WebhookService;
  workflow: Workflow;
}

/** What the management API's route modules share. */
export interface ApiContext {
  auth: AuthServices;
  callers: ReturnType<typeof callerResolver>;
  delivery?: DeliveryServices;
  /** Replication rules and runs, when the composition root provides them. */
  replication?: ReplicationService;
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
