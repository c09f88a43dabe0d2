import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import { openAccess, type V2Access } from './access.js';
import { markTransfer, transferOf } from './metrics.js';
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
    exposeHeadRoutes: false,
    trustProxy: options.trustProxy,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connectionTimeout: 0,
    routerOptions: { maxParamLength: 1024 },
    // Echo a sane incoming id (from a proxy), else make one.
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    ...(options.tls
      ? { https: { cert: readFileSync(options.tls.certificate), key: readFileSync(options.tls.key) } }
      : {}),
  });
  app.server.headersTimeout = options.headersTimeoutMs;

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  markTransfer(app);
  for (const hook of options.hooks ?? []) hook(app);
  if (options.accessLog) {
    app.addHook('onResponse', async (request, reply) => {
      const { bytesIn, bytesOut } = transferOf(request);
      request.log.info(
        {
          method: request.method,
          route: request.routeKind ?? request.routeOptions.url,
          path: (request.raw.url ?? '').split('?', 1)[0]?.slice(0, 512),
          repository: request.repository,
          status: reply.statusCode,
          bytesIn,
          bytesOut,
          durationMs: Math.round(reply.elapsedTime),
          remoteAddress: request.ip,
          user: (request as { principalName?: string }).principalName,
        },
        'request completed',
      );
    });
  }

  await app.register(v2Plugin, {
    registry: options.registry,
    access: options.access ?? openAccess,
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    manifestMaxBytes: options.manifestMaxBytes,
    redirectBlobs: options.redirectBlobs,
    ...(options.resolveNamespace ? { resolveNamespace: options.resolveNamespace } : {}),
  });
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}
