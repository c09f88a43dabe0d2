import type { FastifyInstance } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import type { ReplicationService } from '../../replication/service.js';
import type { Lifecycle } from '../../gc/lifecycle.js';
import type { V2Access } from '../access.js';
import { callerResolver } from '../api/caller.js';
import type { DeliveryServices } from '../api/context.js';
import { apiPlugin } from '../api/plugin.js';
import { registryReadAccess } from '../api/read-access.js';
import type { RegistryReadAccess } from '../api/registry-read-routes.js';
import { tokenRoutes } from './token-routes.js';
import { v2Access } from './v2-access.js';

/** The HTTP side of authentication, for the composition root: /v2 access, /token (in `plugins`), /api/v1 (`api`). */
export function authSurfaces(auth: AuthServices, options: { publicUrl?: string | undefined; delivery?: DeliveryServices; replication?: ReplicationService; lifecycle?: Lifecycle }): {
  v2: V2Access;
  readAccess: RegistryReadAccess;
  api: (app: FastifyInstance) => Promise<void>;
  plugins: Array<(app: FastifyInstance) => Promise<void>>;
} {
  const callers = callerResolver(auth);
  const plugins = auth.config.mode === 'token' ? [tokenRoutes(auth, options)] : [];
  return { v2: v2Access(auth, options), readAccess: registryReadAccess(auth, callers), api: apiPlugin(auth, callers, options.delivery, options.replication, options.lifecycle), plugins };
}
