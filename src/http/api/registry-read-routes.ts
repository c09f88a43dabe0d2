import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry as MetricsRegistry } from 'prom-client';
import { RegistryError } from '../../errors.js';
import { looksLikeDigest, parseDigest } from '../../oci/digest.js';
import { parseRepositoryName, parseTag } from '../../oci/names.js';
import type { Browser, ProjectFilter, RepositorySort } from '../../registry/browse.js';
import type { Registry } from '../../registry/registry.js';
import type { RegistryEvent } from '../access.js';
import { ociErrorHandler } from '../error-envelope.js';

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

const SORTS = new Set<RepositorySort>(['name', 'size', 'tags', 'pushed']);
const MAX_LIMIT = 200;

function pageOf(query: Record<string, string | undefined>, defaultLimit: number): { limit: number; offset: number } {
  const limit = query.limit === undefined ? defaultLimit : Number(query.limit);
  const offset = query.offset === undefined ? 0 : Number(query.offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'offset must be a non-negative integer');
  return { limit, offset };
}

const search = (value: string | undefined) => (value && value.trim() ? value.trim().slice(0, 200) : undefined);

/**
 * `/api/v1/repositories/<name>/-/<what>[/<reference>]`: names contain slashes, so `/-/` ends
 * the name (a path component `-` is not a valid repository name component).
 */
function splitRepositoryPath(tail: string): { repository: string; what: string; reference?: string } {
  const marker = tail.lastIndexOf('/-/');
  if (marker === -1) throw new RegistryError('NOT_FOUND', 'no such endpoint');
  const repository = parseRepositoryName(decodeURIComponent(tail.slice(0, marker)));
  const [what = '', ...rest] = tail.slice(marker + 3).split('/');
  const reference = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  return { repository, what, ...(reference !== undefined ? { reference } : {}) };
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

  app.get('/api/v1/registry-info', async (request) => ({
    registryHost: options.registryHost ?? request.headers.host ?? 'localhost',
  }));

  app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/repositories', async (request) => {
    const q = request.query;
    const sort = (q.sort ?? 'name') as RepositorySort;
    if (!SORTS.has(sort)) throw new RegistryError('INVALID_REQUEST', 'sort must be one of name, size, tags, pushed');
    const order = q.order ?? (sort === 'name' ? 'asc' : 'desc');
    if (order !== 'asc' && order !== 'desc') throw new RegistryError('INVALID_REQUEST', 'order must be asc or desc');
    const filter = await access.pullFilter(request);
    const term = search(q.q);
    return browser.repositories({ filter, ...(term ? { search: term } : {}), sort, descending: order === 'desc', ...pageOf(q, 50) });
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/repositories/*', async (request) => {
    const { repository, what, reference } = splitRepositoryPath((request.params as { '*': string })['*']);
    await access.requirePull(request, repository);
    if (what === 'tags' && reference === undefined) {
      const term = search(request.query.q);
      return browser.tags(repository, { ...(term ? { search: term } : {}), ...pageOf(request.query, 100) });
    }
    if (what === 'manifests') return browser.image(repository, parseReference(reference));
    throw new RegistryError('NOT_FOUND', 'no such endpoint');
  });

  app.delete('/api/v1/repositories/*', async (request, reply) => {
    const { repository, what, reference } = splitRepositoryPath((request.params as { '*': string })['*']);
    if (what !== 'tags' && what !== 'manifests') throw new RegistryError('NOT_FOUND', 'no such endpoint');
    const ref = parseReference(reference);
    if (what === 'tags' && looksLikeDigest(ref)) throw new RegistryError('TAG_INVALID', 'a tag, not a digest, is expected here');
    if (what === 'manifests' && !looksLikeDigest(ref)) throw new RegistryError('DIGEST_INVALID', 'a digest is expected here');
    await access.requireDelete(request, repository);
    await options.registry.deleteManifest(repository, ref);
    access.record?.(request, { action: 'delete', repository, ...(looksLikeDigest(ref) ? { digest: ref } : { reference: ref }) });
    return reply.code(204).send();
  });

  app.get('/api/v1/usage', async (request) => {
    const filter = await access.pullFilter(request);
    const usage = await browser.usage(filter);
    const mirror = options.mirrorStats ? await options.mirrorStats() : undefined;
    return {
      projects: usage.projects,
      // Registry-wide figures only for a caller who sees every project.
      ...('all' in filter ? { counts: usage.counts } : {}),
      ...(mirror ? { mirror: { ...mirror, hitRate: mirror.hits + mirror.misses > 0 ? mirror.hits / (mirror.hits + mirror.misses) : null } } : {}),
    };
  });
}
