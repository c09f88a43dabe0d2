import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry as MetricsRegistry } from 'prom-client';
import { RegistryError } from '../../errors.js';
import { looksLikeDigest, parseDigest } from '../../oci/digest.js';
import { parseRepositoryName, parseTag } from '../../oci/names.js';
import type { Browser, ProjectFilter, RepositorySort } from '../../registry/browse.js';
import type { Registry } from '../../registry/registry.js';
import type { RegistryEvent } from '../access.js';
import { ociErrorHandler } from '../error-envelope.js';
import { noContent, pageOf, ref } from './schemas.js';
import { writeContextOf } from '../write-context.js';

/**
 * What the console's registry endpoints ask of authentication and authorization: the same
 * decisions as `/v2` (a caller sees what it may pull, deletes where its role allows), made from a
 * session cookie, Basic credentials or a bearer token. Each check is one call; the methods throw
 * `RegistryError('UNAUTHORIZED' | 'DENIED')`.
 */
export interface RegistryReadAccess {
  /** Which projects the caller may pull from. */
  pullFilter(request: FastifyRequest): Promise<ProjectFilter>;
  requirePull(request: FastifyRequest, repository: string): Promise<void>;
  /** Includes the CSRF check for cookie sessions. */
  requireDelete(request: FastifyRequest, repository: string): Promise<void>;
  /** For the audit log, once a delete has been done. */
  record?(request: FastifyRequest, event: RegistryEvent): void;
}

/** auth.mode `none`: everything is visible and deletable (a laptop registry). */
export const openReadAccess: RegistryReadAccess = {
  async pullFilter() {
    return { all: true };
  },
  async requirePull() {},
  async requireDelete() {},
};

export interface MirrorStats {
  hits: number;
  misses: number;
}

export interface RegistryReadRoutesOptions {
  browser: Browser;
  /** For deletes: the same use case `/v2` DELETE runs. */
  registry: Registry;
  access: RegistryReadAccess;
  /** `registry.example.com` for pull commands; default: the Host the browser used. */
  registryHost?: string;
  /** Mirror cache counters, once the mirror exposes them. */
  mirrorStats?: () => Promise<MirrorStats | undefined>;
}

/**
 * Mirror cache counters from this process's metrics (the mirror counts hits and misses there).
 * Undefined when no mirror is configured. Per process: with several workers each has its own.
 */
export function mirrorStatsFrom(metrics: MetricsRegistry): () => Promise<MirrorStats | undefined> {
  const total = async (name: string) => {
    const metric = metrics.getSingleMetric(name);
    if (!metric) return undefined;
    return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
  };
  return async () => {
    const [hits, misses] = await Promise.all([total('wharf_mirror_cache_hits_total'), total('wharf_mirror_cache_misses_total')]);
    return hits === undefined || misses === undefined ? undefined : { hits, misses };
  };
}

const MAX_LIMIT = 200;

const page = (defaultLimit: number) => ({
  limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: defaultLimit },
  offset: { type: 'integer', minimum: 0, default: 0 },
  q: { type: 'string', maxLength: 1000, description: 'a substring of the name' },
});
const tagQuery = { type: 'object', properties: page(100) } as const;
const repositoryParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 1024, description: 'the repository name, percent-encoded (team%2Fapp); the same paths with the name\'s slashes as they are work too' } },
} as const;
const referenceParams = (what: string) => ({
  type: 'object',
  required: ['name', 'reference'],
  properties: { ...repositoryParams.properties, reference: { type: 'string', minLength: 1, maxLength: 256, description: what } },
});
const tags = ['registry'];

interface PageQuery {
  limit: number;
  offset: number;
  q?: string;
}

const search = (value: string | undefined) => (value && value.trim() ? value.trim().slice(0, 200) : undefined);

/**
 * `/api/v1/repositories/<name>/-/<what>[/<reference>]` with the name's slashes as they are:
 * `/-/` ends the name (a path component `-` is not a valid repository name component).
 */
function splitRepositoryPath(tail: string): { repository: string; what: string; reference?: string } {
  const marker = tail.lastIndexOf('/-/');
  if (marker === -1) throw new RegistryError('NOT_FOUND', 'no such endpoint');
  const [what = '', ...rest] = tail.slice(marker + 3).split('/');
  const reference = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  return { repository: decodeURIComponent(tail.slice(0, marker)), what, ...(reference !== undefined ? { reference } : {}) };
}

function parseReference(reference: string | undefined): string {
  if (!reference) throw new RegistryError('NOT_FOUND', 'no such endpoint');
  return looksLikeDigest(reference) ? parseDigest(reference).value : parseTag(reference);
}

/** The registry's read endpoints for the console (and scripts): repositories, tags, images, usage, deletes. */
export async function registryReadRoutes(app: FastifyInstance, options: RegistryReadRoutesOptions) {
  const { browser, access } = options;
  app.setErrorHandler(ociErrorHandler);
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('Cache-Control', 'no-store');
  });

  const listTags = async (request: FastifyRequest, name: string, query: PageQuery) => {
    const repository = parseRepositoryName(name);
    await access.requirePull(request, repository);
    const term = search(query.q);
    return browser.tags(repository, { ...(term ? { search: term } : {}), limit: query.limit, offset: query.offset });
  };
  const image = async (request: FastifyRequest, name: string, reference: string | undefined) => {
    const repository = parseRepositoryName(name);
    await access.requirePull(request, repository);
    return browser.image(repository, parseReference(reference));
  };
  const remove = async (request: FastifyRequest, reply: FastifyReply, what: string, name: string, reference: string | undefined) => {
    if (what !== 'tags' && what !== 'manifests') throw new RegistryError('NOT_FOUND', 'no such endpoint');
    const repository = parseRepositoryName(name);
    const ref = parseReference(reference);
    if (what === 'tags' && looksLikeDigest(ref)) throw new RegistryError('TAG_INVALID', 'a tag, not a digest, is expected here');
    if (what === 'manifests' && !looksLikeDigest(ref)) throw new RegistryError('DIGEST_INVALID', 'a digest is expected here');
    await access.requireDelete(request, repository);
    await options.registry.deleteManifest(repository, ref, writeContextOf(request));
    access.record?.(request, { action: 'delete', repository, ...(looksLikeDigest(ref) ? { digest: ref } : { reference: ref }) });
    return reply.code(204).send();
  };

  app.get(
    '/api/v1/registry-info',
    { schema: { summary: 'the host name for pull commands', tags, response: { 200: { type: 'object', required: ['registryHost'], properties: { registryHost: { type: 'string' } } } } } },
    async (request) => ({ registryHost: options.registryHost ?? request.headers.host ?? 'localhost' }),
  );

  app.get<{ Querystring: PageQuery & { sort: RepositorySort; order?: 'asc' | 'desc' } }>(
    '/api/v1/repositories',
    {
      schema: {
        summary: 'repositories the caller may pull',
        tags,
        querystring: {
          type: 'object',
          properties: {
            ...page(50),
            sort: { type: 'string', enum: ['name', 'size', 'tags', 'pushed'], default: 'name' },
            order: { type: 'string', enum: ['asc', 'desc'], description: 'default: asc by name, desc otherwise' },
          },
        },
        response: { 200: pageOf('RepositorySummary') },
      },
    },
    async (request) => {
      const { sort, order = sort === 'name' ? 'asc' : 'desc', limit, offset } = request.query;
      const filter = await access.pullFilter(request);
      const term = search(request.query.q);
      return browser.repositories({ filter, ...(term ? { search: term } : {}), sort, descending: order === 'desc', limit, offset });
    },
  );

  app.get<{ Params: { name: string }; Querystring: PageQuery }>(
    '/api/v1/repositories/:name/-/tags',
    { schema: { summary: "a repository's tags", tags, params: repositoryParams, querystring: tagQuery, response: { 200: pageOf('Tag') } } },
    async (request) => listTags(request, request.params.name, request.query),
  );

  app.get<{ Params: { name: string; reference: string } }>(
    '/api/v1/repositories/:name/-/manifests/:reference',
    { schema: { summary: 'an image or index: manifest, config, layers, history, platforms, referrers', tags, params: referenceParams('a tag or a digest'), response: { 200: ref('Image') } } },
    async (request) => image(request, request.params.name, request.params.reference),
  );

  app.delete<{ Params: { name: string; reference: string } }>(
    '/api/v1/repositories/:name/-/tags/:reference',
    { schema: { summary: 'delete a tag (its manifest stays)', tags, params: referenceParams('a tag'), response: noContent } },
    async (request, reply) => remove(request, reply, 'tags', request.params.name, request.params.reference),
  );

  app.delete<{ Params: { name: string; reference: string } }>(
    '/api/v1/repositories/:name/-/manifests/:reference',
    { schema: { summary: 'delete a manifest and its tags', tags, params: referenceParams('a digest'), response: noContent } },
    async (request, reply) => remove(request, reply, 'manifests', request.params.name, request.params.reference),
  );

  // The same endpoints with the name's slashes as they are (routers cannot match those as one
  // parameter), so not in the OpenAPI document.
  app.get<{ Params: { '*': string }; Querystring: PageQuery }>(
    '/api/v1/repositories/*',
    { schema: { hide: true, querystring: tagQuery } },
    async (request) => {
      const { repository, what, reference } = splitRepositoryPath(request.params['*']);
      if (what === 'tags' && reference === undefined) return listTags(request, repository, request.query);
      if (what === 'manifests') return image(request, repository, reference);
      throw new RegistryError('NOT_FOUND', 'no such endpoint');
    },
  );

  app.delete<{ Params: { '*': string } }>('/api/v1/repositories/*', { schema: { hide: true } }, async (request, reply) => {
    const { repository, what, reference } = splitRepositoryPath(request.params['*']);
    return remove(request, reply, what, repository, reference);
  });

  app.get(
    '/api/v1/usage',
    { schema: { summary: 'stored bytes per project; registry-wide counts for those who see everything; mirror cache counters', tags, response: { 200: ref('Usage') } } },
    async (request) => {
      const filter = await access.pullFilter(request);
      const usage = await browser.usage(filter);
      const mirror = options.mirrorStats ? await options.mirrorStats() : undefined;
      return {
        projects: usage.projects,
        // Registry-wide figures only for a caller who sees every project.
        ...('all' in filter ? { counts: usage.counts } : {}),
        ...(mirror ? { mirror: { ...mirror, hitRate: mirror.hits + mirror.misses > 0 ? mirror.hits / (mirror.hits + mirror.misses) : null } } : {}),
      };
    },
  );
}
