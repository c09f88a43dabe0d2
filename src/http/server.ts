import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { RegistryError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import { openAccess, type V2Access } from './access.js';
import { answerClientError, ociErrorHandler } from './error-envelope.js';
import { lazyChildLogger, writes } from './lazy-logger.js';
import { lazySchemaCompilers } from './lazy-schema-compilers.js';
import { requestEnd } from './metrics.js';
import type { V2Options } from './v2/context.js';
import { v2Plugin } from './v2/plugin.js';

export interface HttpServerOptions {
  registry: Registry;
  logger: Logger;
  access?: V2Access;
  publicUrl?: string;
  manifestMaxBytes: number;
  redirectBlobs: boolean;
  /** Registry mirror hook for `?ns=` (see V2Options). */
  resolveNamespace?: (ns: string, name: string) => string | undefined;
  /** Pull events (see V2Options.onPull). */
  onPull?: V2Options['onPull'];
  tls?: { certificate: string; key: string };
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  trustProxy: boolean;
  accessLog: boolean;
  /** Root hooks that must see every surface's requests (metrics), installed before the surfaces. */
  hooks?: Array<(app: FastifyInstance) => void>;
  /** Further surfaces (metrics, health, /api/v1, console) registered by the composition root. */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Builds the Fastify app (not listening): one encapsulated scope per surface. */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    exposeHeadRoutes: false,
    trustProxy: options.trustProxy,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connectionTimeout: 0,
    routerOptions: { maxParamLength: 1024 },
    schemaController: { compilersFactory: lazySchemaCompilers() },
    // Echo a sane incoming id (from a proxy), else make one.
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    ...(options.tls
      ? { https: { cert: readFileSync(options.tls.certificate), key: readFileSync(options.tls.key) } }
      : {}),
    // What Node's parser or Fastify's router refuses gets the same envelope as every other error.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, options.logger as FastifyBaseLogger),
    frameworkErrors: (error, request, reply) => rootError(error, request, reply),
  });
  app.server.headersTimeout = options.headersTimeoutMs;
  app.setErrorHandler(rootError);
  app.setNotFoundHandler(async (request) => {
    // Every path under /v2 is a route for the methods the API has: this one is not among them.
    if (isV2(request)) throw new RegistryError('UNSUPPORTED', `method ${request.method.slice(0, 20)} is not supported`);
    throw new RegistryError('NOT_FOUND', 'no such endpoint');
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
    reply.raw.once('close', () => logEnd(request, reply, options.accessLog));
  });
  for (const hook of options.hooks ?? []) hook(app);

  await app.register(v2Plugin, {
    registry: options.registry,
    access: options.access ?? openAccess,
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    manifestMaxBytes: options.manifestMaxBytes,
    redirectBlobs: options.redirectBlobs,
    ...(options.resolveNamespace ? { resolveNamespace: options.resolveNamespace } : {}),
    ...(options.onPull ? { onPull: options.onPull } : {}),
  });
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}

const isV2 = (request: FastifyRequest) => /^\/v2(?:[/?]|$)/.test(request.raw.url ?? '');

/** Errors outside every surface (a bad URL, an unknown method): the envelope, on /v2 with its version header. */
function rootError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (isV2(request)) reply.header('Docker-Distribution-API-Version', 'registry/2.0');
  return ociErrorHandler(error, request, reply);
}

/**
 * The access-log line, once the connection is done with the request. A request the client hung
 * up on is logged whether or not the access log is on: at info, with what it moved, no stack.
 */
function logEnd(request: FastifyRequest, reply: FastifyReply, accessLog: boolean): void {
  const { aborted, bytesIn, bytesOut } = requestEnd(request, reply);
  if ((!aborted && !accessLog) || !writes(request.log, 'info')) return;
  request.log.info(
    {
      method: request.method,
      route: request.routeKind ?? request.routeOptions.url,
      path: (request.raw.url ?? '').split('?', 1)[0]?.slice(0, 512),
      repository: request.repository,
      status: aborted && !reply.raw.headersSent ? undefined : reply.statusCode,
      bytesIn,
      bytesOut,
      durationMs: Math.round(reply.elapsedTime),
      remoteAddress: request.ip,
      user: (request as { principalName?: string }).principalName,
      // While the client was still sending its request, or already receiving the response.
      ...(aborted ? { during: request.raw.complete ? 'response' : 'request' } : {}),
    },
    aborted ? 'request aborted' : 'request completed',
  );
}
