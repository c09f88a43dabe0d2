import type { FastifyInstance } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import type { Lifecycle } from '../../gc/lifecycle.js';
import { ociErrorHandler } from '../error-envelope.js';
import { auditRoutes } from './audit-routes.js';
import { callerResolver, checkCsrf } from './caller.js';
import type { ApiContext, DeliveryServices } from './context.js';
import type { ReplicationService } from '../../replication/service.js';
import { lifecycleRoutes } from './lifecycle-routes.js';
import { lineageRoutes } from './lineage-routes.js';
import { projectRoutes } from './project-routes.js';
import { replicationRoutes } from './replication-routes.js';
import { promotionRoutes } from './promotion-routes.js';
import { sessionRoutes } from './session-routes.js';
import { userRoutes } from './user-routes.js';
import { webhookRoutes } from './webhook-routes.js';

export const API_PREFIX = '/api/v1';

/**
 * The management API under /api/v1: JSON in and out, errors in the registry's envelope
 * (`{"errors":[{"code","message"}]}`), JSON schemas on every route (the OpenAPI document is
 * generated from them: see ./openapi.ts).
 */
export function apiPlugin(auth: AuthServices, callers = callerResolver(auth), delivery?: DeliveryServices, replication?: ReplicationService, lifecycle?: Lifecycle) {
  return async function register(app: FastifyInstance): Promise<void> {
    await app.register(
      async (api) => {
        api.setErrorHandler(ociErrorHandler);
        api.addHook('onRequest', async (_request, reply) => {
          reply.header('Cache-Control', 'no-store');
        });
        // Resolve the caller once (a 401 for wrong credentials) and check CSRF on cookie-authenticated changes.
        api.addHook('preHandler', async (request) => {
          const caller = await callers.of(request);
          if (!request.routeOptions.config.public) checkCsrf(request, caller);
        });

        const context: ApiContext = { auth, callers, ...(delivery ? { delivery } : {}), ...(replication ? { replication } : {}) };
        sessionRoutes(api, context);
        userRoutes(api, context);
        projectRoutes(api, context);
        auditRoutes(api, context);
        if (delivery) {
          webhookRoutes(api, { ...context, delivery });
          promotionRoutes(api, { ...context, delivery });
          lineageRoutes(api, { ...context, delivery });
        }
        if (replication) replicationRoutes(api, { ...context, replication });
        if (lifecycle) lifecycleRoutes(api, context, lifecycle);
      },
      { prefix: API_PREFIX },
    );
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route anyone may call without the CSRF check (log in, log out, who am I). */
    public?: boolean;
  }
}
