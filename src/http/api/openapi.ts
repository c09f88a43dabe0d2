/** A route as registered, with the schema the OpenAPI document is built from. */
export interface DocumentedRoute {
  method: string;
  url: string;
  schema?: {
    summary?: string;
    tags?: string[];
    params?: unknown;
    querystring?: { properties?: Record<string, unknown>; required?: string[] };
    body?: unknown;
    response?: Record<string, unknown>;
  };
}

/** OpenAPI 3.1 from the routes' JSON schemas (hand-assembled: no extra dependency). */
export function openApiDocument(routes: readonly DocumentedRoute[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.method === 'HEAD' || route.method === 'OPTIONS') continue;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const schema = route.schema ?? {};
    const parameters = [
      ...[...path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(schema.querystring?.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: schema.querystring?.required?.includes(name) ?? false, schema: s })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, body] of Object.entries(schema.response ?? { 200: {} })) {
      responses[status] = { description: status === '204' ? 'no content' : 'success', ...(status === '204' ? {} : { content: { 'application/json': { schema: body } } }) };
    }
    responses.default = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Errors' } } } };
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      summary: schema.summary,
      tags: schema.tags,
      parameters,
      ...(schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } } : {}),
      responses,
      security: [{ basic: [] }, { bearer: [] }, { session: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Wharf management API',
      version: '1',
      description:
        'Users, projects, members, robots, tokens and the audit log. Authenticate with HTTP Basic, a bearer token, or the console session cookie; ' +
        'cookie-authenticated changes need the X-CSRF-Token header (the csrfToken from POST /session).',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        basic: { type: 'http', scheme: 'basic' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        session: { type: 'apiKey', in: 'cookie', name: 'wharf_session' },
      },
      schemas: {
        Errors: {
          type: 'object',
          properties: { errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, detail: {} } } } },
        },
      },
    },
  };
}

// Route schemas carry their OpenAPI summary and tags (as @fastify/swagger's do).
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    tags?: string[];
  }
}
