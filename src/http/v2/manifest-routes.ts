import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../errors.js';
import { looksLikeDigest } from '../../oci/digest.js';
import { parseAccept } from '../../oci/media-types.js';
import { isManifestReference } from '../../oci/names.js';
import type { ManifestInfo } from '../../registry/registry.js';
import { writeContextOf } from '../write-context.js';
import type { V2Context } from './context.js';

/**
 * Reads a manifest body up to `limit` bytes. Unlike readSmall it never destroys the request: that
 * would destroy the socket and the client would get no 413 at all. The error handler discards
 * what is left of the body and closes the connection.
 */
async function readManifestBody(request: FastifyRequest, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const body = request.raw;
  for await (const chunk of body.iterator({ destroyOnReturn: false })) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw tooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

/**
 * A reference that is neither a tag nor a digest names no manifest: a read or a delete of it is
 * answered like any other missing manifest (404, as CNCF Distribution, zot and the OCI conformance
 * suite do). Only a PUT, which asks for the name to be assigned, is refused as malformed.
 */
function requireNameable(name: string, reference: string): void {
  if (!isManifestReference(reference)) {
    throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference: reference.slice(0, 200) } });
  }
}

function manifestHeaders(info: ManifestInfo) {
  return { 'Content-Type': info.mediaType, 'Docker-Content-Digest': info.digest, ETag: `"${info.digest}"`, 'Content-Length': info.size };
}

export async function manifest(name: string, reference: string, request: FastifyRequest, reply: FastifyReply, context: V2Context) {
  const { registry, access } = context;
  switch (request.method) {
    case 'HEAD': {
      await access.require(request, { kind: 'repository', repository: name, actions: ['pull'] });
      requireNameable(name, reference);
      const info = await registry.statManifest(name, reference, parseAccept(request.headers.accept));
      return reply.code(200).headers(manifestHeaders(info)).send();
    }
    case 'GET': {
      await access.require(request, { kind: 'repository', repository: name, actions: ['pull'] });
      requireNameable(name, reference);
      const accept = parseAccept(request.headers.accept);
      if (request.headers['if-none-match']) {
        const info = await registry.statManifest(name, reference, accept);
        if (request.headers['if-none-match'] === `"${info.digest}"`) {
          return reply.code(304).headers({ 'Docker-Content-Digest': info.digest, ETag: `"${info.digest}"` }).send();
        }
      }
      const content = await registry.getManifest(name, reference, accept);
      access.record?.(request, {
        action: 'pull',
        repository: name,
        reference,
        digest: content.digest,
        mediaType: content.mediaType,
        ...(content.mirror ? { mirror: content.mirror } : {}),
      });
      context.onPull?.({ repository: name, reference, manifest: content }, writeContextOf(request));
      return reply.code(200).headers(manifestHeaders(content)).send(content.bytes);
    }
    case 'PUT': {
      await access.require(request, { kind: 'repository', repository: name, actions: ['pull', 'push'] });
      const limit = context.manifestMaxBytes;
      const declared = Number(request.headers['content-length'] ?? 0);
      const tooLarge = () => new RegistryError('MANIFEST_INVALID', `manifest is larger than ${limit} bytes`, { status: 413 });
      if (declared > limit) throw tooLarge();
      const body = await readManifestBody(request, limit, tooLarge);
      const result = await registry.putManifest(name, reference, body, request.headers['content-type'], writeContextOf(request));
      access.record?.(request, { action: 'push', repository: name, reference, digest: result.digest });
      const headers: Record<string, string | number> = {
        Location: context.location(`/v2/${name}/manifests/${result.digest}`),
        'Docker-Content-Digest': result.digest,
        'Content-Length': 0,
      };
      if (result.subject) headers['OCI-Subject'] = result.subject;
      return reply.code(201).headers(headers).send();
    }
    case 'DELETE': {
      await access.require(request, { kind: 'repository', repository: name, actions: ['delete'] });
      requireNameable(name, reference);
      await registry.deleteManifest(name, reference, writeContextOf(request));
      access.record?.(request, { action: 'delete', repository: name, ...(looksLikeDigest(reference) ? { digest: reference } : { reference }) });
      return reply.code(202).header('Content-Length', 0).send();
    }
    default:
      throw new RegistryError('UNSUPPORTED', `method ${request.method} is not supported on a manifest`);
  }
}
