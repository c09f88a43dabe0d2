import type { FastifyInstance, RouteOptions } from 'fastify';
import type { AuthServices } from '../../auth/create-auth.js';
import { ociErrorHandler } from '../error-envelope.js';
import { auditRoutes } from './audit-routes.js';
import { callerResolver, checkCsrf } from './caller.js';
import type { ApiContext } from './context.js';
import { openApiDocument, type DocumentedRoute } from './openapi.js';
import { projectRoutes } from './project-routes.js';
import { sessionRoutes } from './session-routes.js';
import { userRoutes } from './user-routes.js';

export const API_PREFIX = '/api/v1';

/**
 * The management API under /api/v1: JSON in and out, errors in the registry's envelope
 * (`{"errors":[{"code","message"}]}`), JSON schemas on every route and an OpenAPI document built
 * from them at /api/v1/openapi.json.
 */
export function apiPlugin(auth: AuthServices, callers = callerResolver(auth)) {
  return async function register(app: FastifyInstance): Promise<void> {
    await app.register(
      async (api) => {
        const routes: DocumentedRoute[] = [];
        api.addHook('onRoute', (route: RouteOptions) => {
          if (route.url.endsWith('/openapi.json')) return;
          for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url, schema: route.schema as DocumentedRoute['schema'] });
        });
        api.setErrorHandler(ociErrorHandler);
        api.addHook('onRequest', async (_request, reply) => {
          reply.header('Cache-Control', 'no-store');
        });
        // Resolve the caller once (a 401 for wrong credentials) and check CSRF on cookie-authenticated changes.
        api.addHook('preHandler', async (request) => {
          const caller = await callers.of(request);
          if (!(request.routeOptions.config as { public?: boolean }).public) checkCsrf(request, caller);
        });

        const context: ApiContext = { auth, callers };
        sessionRoutes(api, context);
        userRoutes(api, context);
        projectRoutes(api, context);
        auditRoutes(api, context);
        api.get('/openapi.json', { config: { public: true } }, async () => openApiDocument(routes));
      },
      { prefix: API_PREFIX },
    );
  };
}
