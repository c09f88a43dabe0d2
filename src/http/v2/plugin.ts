import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../errors.js';
import { ociErrorHandler } from '../error-envelope.js';
import { deleteBlob, getBlob, headBlob } from './blob-routes.js';
import type { V2Context, V2Options } from './context.js';
import { catalog, referrers, tags } from './listing-routes.js';
import { manifest } from './manifest-routes.js';
import { matchV2Route } from './route-match.js';
import { startUpload, uploadSession } from './upload-routes.js';

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;

/**
 * The OCI Distribution API under `/v2`. Bodies are never parsed here: handlers stream
 * `request.raw` (blobs) or read it with a limit (manifests). Paths are matched by hand because
 * repository names contain slashes.
 */
export async function v2Plugin(app: FastifyInstance, options: V2Options) {
  const context: V2Context = {
    ...options,
    location: (path) => (options.publicUrl ? `${options.publicUrl}${path}` : path),
  };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  app.setErrorHandler(ociErrorHandler);
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
  });

  const handler = (request: FastifyRequest, reply: FastifyReply) => dispatch(request, reply, context);
  app.route({ method: [...METHODS], url: '/v2', handler });
  app.route({ method: [...METHODS], url: '/v2/', handler });
  app.route({ method: [...METHODS], url: '/v2/*', handler });
}

async function dispatch(request: FastifyRequest, reply: FastifyReply, context: V2Context): Promise<unknown> {
  const url = request.raw.url ?? '/';
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1));
  const route = matchV2Route(path);
  const method = request.method;
  if (!route) throw new RegistryError('NOT_FOUND', 'no such endpoint', { detail: { path: path.slice(0, 300) } });
  // containerd sends `?ns=<registry>` to a mirror: the mirror names the repository that serves it.
  const ns = query.get('ns');
  if (ns && 'name' in route && context.resolveNamespace) route.name = context.resolveNamespace(ns, route.name) ?? route.name;
  // Labels for metrics and the access log (declared in ../metrics.ts).
  request.routeKind = route.kind;
  if ('name' in route) request.repository = route.name;

  const unsupported = () => new RegistryError('UNSUPPORTED', `method ${method} is not supported on this endpoint`);
  switch (route.kind) {
    case 'base':
      if (method !== 'GET' && method !== 'HEAD') throw unsupported();
      await context.access.require(request, { kind: 'base' });
      return reply.code(200).type('application/json').send('{}');
    case 'catalog':
      if (method !== 'GET') throw unsupported();
      return catalog(request, reply, query, context);
    case 'tags':
      if (method !== 'GET') throw unsupported();
      return tags(route.name, request, reply, query, context);
    case 'referrers':
      if (method !== 'GET') throw unsupported();
      return referrers(route.name, route.digest, request, reply, query, context);
    case 'manifest':
      return manifest(route.name, route.reference, request, reply, context);
    case 'uploads':
      if (method !== 'POST') throw unsupported();
      return startUpload(route.name, request, reply, query, context);
    case 'upload':
      return uploadSession(route.name, route.id, request, reply, query, context);
    case 'blob':
      if (method === 'HEAD') return headBlob(route.name, route.digest, request, reply, context);
      if (method === 'GET') return getBlob(route.name, route.digest, request, reply, context);
      if (method === 'DELETE') return deleteBlob(route.name, route.digest, request, reply, context);
      throw unsupported();
  }
}
