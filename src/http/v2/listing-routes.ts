import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../errors.js';
import { MediaType } from '../../oci/media-types.js';
import type { V2Context } from './context.js';

function pageParams(query: URLSearchParams): { n?: number; last?: string } {
  const params: { n?: number; last?: string } = {};
  const n = query.get('n');
  if (n !== null) {
    if (!/^\d{1,9}$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { detail: { n } });
    params.n = Number(n);
  }
  const last = query.get('last');
  if (last !== null) params.last = last;
  return params;
}

function linkHeader(path: string, n: number | undefined, next: string): string {
  const query = new URLSearchParams();
  if (n !== undefined) query.set('n', String(n));
  query.set('last', next);
  return `<${path}?${query.toString()}>; rel="next"`;
}

export async function tags(name: string, request: FastifyRequest, reply: FastifyReply, query: URLSearchParams, context: V2Context) {
  await context.access.require(request, { kind: 'repository', repository: name, actions: ['pull'] });
  const params = pageParams(query);
  const page = await context.registry.listTags(name, params);
  if (page.next !== undefined) reply.header('Link', linkHeader(`/v2/${name}/tags/list`, params.n ?? page.items.length, page.next));
  return reply.code(200).type('application/json').send({ name, tags: page.items });
}

export async function catalog(request: FastifyRequest, reply: FastifyReply, query: URLSearchParams, context: V2Context) {
  await context.access.require(request, { kind: 'catalog' });
  const params = pageParams(query);
  const page = await context.registry.listRepositories(params);
  const visible: string[] = [];
  for (const name of page.items) if (await context.access.canPull(request, name)) visible.push(name);
  if (page.next !== undefined) reply.header('Link', linkHeader('/v2/_catalog', params.n ?? page.items.length, page.next));
  return reply.code(200).type('application/json').send({ repositories: visible });
}

export async function referrers(name: string, digest: string, request: FastifyRequest, reply: FastifyReply, query: URLSearchParams, context: V2Context) {
  await context.access.require(request, { kind: 'repository', repository: name, actions: ['pull'] });
  const artifactType = query.get('artifactType') ?? undefined;
  const manifests = await context.registry.listReferrers(name, digest, artifactType);
  if (artifactType !== undefined) reply.header('OCI-Filters-Applied', 'artifactType');
  // A Buffer, so Fastify sends the media type exactly as the spec names it (no `; charset=`).
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  return reply.code(200).header('Content-Type', MediaType.ociIndex).send(body);
}
