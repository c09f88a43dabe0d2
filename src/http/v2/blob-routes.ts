import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobContent } from '../../registry/registry.js';
import type { ByteRange } from '../../storage/driver.js';
import { writeContextOf } from '../write-context.js';
import type { V2Context } from './context.js';
import { parseRangeHeader } from './range.js';
import { sendChunks } from './send-chunks.js';

export async function headBlob(name: string, digest: string, request: FastifyRequest, reply: FastifyReply, context: V2Context) {
  await context.access.require(request, { kind: 'repository', repository: name, actions: ['pull'] });
  const info = await context.registry.statBlob(name, digest);
  return reply
    .code(200)
    .headers({ 'Content-Length': info.size, 'Docker-Content-Digest': info.digest, ETag: `"${info.digest}"`, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' })
    .send();
}

export async function getBlob(name: string, digest: string, request: FastifyRequest, reply: FastifyReply, context: V2Context) {
  await context.access.require(request, { kind: 'repository', repository: name, actions: ['pull'] });
  const allowRedirect = context.redirectBlobs;
  let range: ByteRange | undefined;
  let content: BlobContent;
  if (request.headers['if-none-match'] === undefined && request.headers.range === undefined) {
    // A plain GET: the read tells the size, no stat before it (through the mirror, one upstream
    // request instead of a HEAD and then a GET).
    content = await context.registry.readBlob(name, digest, { allowRedirect });
  } else {
    const found = await context.registry.statBlob(name, digest);
    if (request.headers['if-none-match'] === `"${found.digest}"`) {
      return reply.code(304).headers({ 'Docker-Content-Digest': found.digest, ETag: `"${found.digest}"` }).send();
    }
    range = parseRangeHeader(request.headers.range, found.size);
    content = await context.registry.readBlob(name, digest, { ...(range ? { range } : {}), allowRedirect });
  }
  context.access.record?.(request, { action: 'pull', repository: name, digest: content.digest });
  const headers: Record<string, string | number> = { 'Docker-Content-Digest': content.digest, ETag: `"${content.digest}"`, 'Accept-Ranges': 'bytes' };
  if (content.redirectUrl) return reply.code(307).headers({ ...headers, Location: content.redirectUrl }).send();
  headers['Content-Type'] = 'application/octet-stream';
  if (range) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end - 1}/${content.size}`;
    headers['Content-Length'] = range.end - range.start;
    reply.code(206);
  } else {
    headers['Content-Length'] = content.size;
    reply.code(200);
  }
  reply.headers(headers);
  if (content.pipeTo) return sendChunks(reply, content.pipeTo);
  // A store failing mid-body is the server's failure, not the client hanging up (see requestEnd).
  content.stream?.once('error', (error: Error) => {
    if (reply.raw.headersSent) reply.raw.destroy(error);
  });
  return reply.send(content.stream);
}

export async function deleteBlob(name: string, digest: string, request: FastifyRequest, reply: FastifyReply, context: V2Context) {
  await context.access.require(request, { kind: 'repository', repository: name, actions: ['delete'] });
  await context.registry.deleteBlob(name, digest, writeContextOf(request));
  context.access.record?.(request, { action: 'delete', repository: name, digest });
  return reply.code(202).header('Content-Length', 0).send();
}
