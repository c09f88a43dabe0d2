import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_CSP } from '../console.js';
import { namedSchemas } from './schemas.js';

export const OPENAPI_PATH = '/api/v1/openapi.json';
/** The browsable API reference (Swagger UI, served from the package: no CDN). */
export const API_REFERENCE_PATH = '/api/v1/docs';

type Surface = (app: FastifyInstance) => Promise<void>;
type OpenApiDocument = { paths?: Record<string, Record<string, { responses?: Record<string, unknown> }>> };

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);

/** Every operation can fail with the registry's error envelope. */
function withErrorResponses<T extends OpenApiDocument>(document: T): T {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!METHODS.has(method)) continue;
      operation.responses = {
        ...operation.responses,
        default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Errors' } } } },
      };
    }
  }
  return document;
}

/**
 * The management API's scope: @fastify/swagger sees every route registered inside it and builds
 * the OpenAPI 3.1 document from their JSON schemas (served at OPENAPI_PATH, browsable at
 * API_REFERENCE_PATH). The named schemas (./schemas.ts) are added here, so every surface inside
 * may reference them.
 */
export function apiScope(surfaces: readonly Surface[]): Surface {
  return async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Wharf management API',
          version: '1',
          description:
            'Users, projects, members, robots, tokens, the audit log, the registry views of the console, webhooks, promotion and lineage. ' +
            'Authenticate with HTTP Basic, a bearer token, or the console session cookie; ' +
            'cookie-authenticated changes need the X-CSRF-Token header (the csrfToken from POST /session).',
        },
        servers: [{ url: '/' }],
        components: {
          securitySchemes: {
            basic: { type: 'http', scheme: 'basic' },
            bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            session: { type: 'apiKey', in: 'cookie', name: 'wharf_session' },
          },
        },
        security: [{ basic: [] }, { bearer: [] }, { session: [] }],
      },
      // Components are named by their $id (User, Image, …), which the console's types use.
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
      transformObject: (document) => ('openapiObject' in document ? withErrorResponses(document.openapiObject as OpenApiDocument) : document.swaggerObject),
    });
    for (const schema of namedSchemas()) app.addSchema(schema);
    for (const surface of surfaces) await app.register(surface);
    app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
    await app.register(swaggerUi, {
      routePrefix: API_REFERENCE_PATH,
      // The console's policy: Swagger UI's files are served from the package, with no inline code.
      staticCSP: CONSOLE_CSP,
      // No top bar: its Swagger logo carries an inline style, and its URL box is not needed.
      uiConfig: { deepLinking: true, layout: 'BaseLayout' },
    });
  };
}
