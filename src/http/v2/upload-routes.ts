import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../errors.js';
import type { ChunkRange, UploadStatus } from '../../registry/registry.js';
import { hasBody, type V2Context } from './context.js';
import { parseContentRange } from './range.js';

function rangeHeader(size: number): string {
  return size > 0 ? `0-${size - 1}` : '0-0';
}

/** Where a session stands: its URL, its id and the bytes it holds (`Range`, inclusive). */
function stateHeaders(status: UploadStatus, context: V2Context): Record<string, string> {
  return {
    Location: context.location(`/v2/${status.repository}/blobs/uploads/${status.id}`),
    'Docker-Upload-UUID': status.id,
    Range: rangeHeader(status.size),
  };
}

function sessionHeaders(status: UploadStatus, context: V2Context) {
  return { ...stateHeaders(status, context), 'Content-Length': 0 };
}

/**
 * An error about a live session carries where the session stands, so the client resumes from
 * there (a 416's Range is the spec's; the others get it for the same reason). A session that is
 * gone, or an error that is not the client's, is answered as it is.
 */
async function withSessionState(error: unknown, name: string, id: string, context: V2Context): Promise<unknown> {
  if (!(error instanceof RegistryError) || error.code === 'BLOB_UPLOAD_UNKNOWN') return error;
  const status = await context.registry.uploadStatus(name, id).catch(() => undefined);
  if (!status) return error;
  return new RegistryError(error.code, error.message, {
    status: error.status,
    detail: error.detail,
    headers: { ...error.headers, ...stateHeaders(status, context) },
    cause: error,
  });
}

/** A chunk whose Content-Length already differs from its Content-Range is refused unread. */
function checkDeclaredLength(request: FastifyRequest, range: ChunkRange | undefined): void {
  const declared = request.headers['content-length'];
  if (!range || declared === undefined || range.end < range.start) return;
  const length = range.end - range.start + 1;
  if (Number(declared) !== length) {
    throw new RegistryError('SIZE_INVALID', `Content-Length ${declared} differs from the ${length} bytes of Content-Range`, {
      detail: { expected: length },
    });
  }
}

function createdHeaders(name: string, digest: string, context: V2Context) {
  return { Location: context.location(`/v2/${name}/blobs/${digest}`), 'Docker-Content-Digest': digest, 'Content-Length': 0 };
}

/** POST /v2/<name>/blobs/uploads/ — mount, monolithic upload, or a new session. */
export async function startUpload(name: string, request: FastifyRequest, reply: FastifyReply, query: URLSearchParams, context: V2Context) {
  await context.access.require(request, { kind: 'repository', repository: name, actions: ['pull', 'push'] });
  const mount = query.get('mount');
  if (mount !== null) {
    const from = query.get('from') ?? undefined;
    // Mount only from a repository the caller may read; otherwise fall back to an upload.
    const allowed = from !== undefined && (await context.access.canPull(request, from));
    const mounted = allowed ? await context.registry.mountBlob(name, mount, from) : null;
    if (mounted) {
      context.access.record?.(request, { action: 'mount', repository: name, digest: mounted.digest });
      return reply.code(201).headers(createdHeaders(name, mounted.digest, context)).send();
    }
  }
  const digest = query.get('digest');
  if (digest !== null && mount === null) {
    const blob = await context.registry.uploadBlob(name, digest, request.raw);
    context.access.record?.(request, { action: 'push', repository: name, digest: blob.digest });
    return reply.code(201).headers(createdHeaders(name, blob.digest, context)).send();
  }
  const status = await context.registry.startUpload(name);
  return reply.code(202).headers(sessionHeaders(status, context)).send();
}

export async function uploadSession(name: string, id: string, request: FastifyRequest, reply: FastifyReply, query: URLSearchParams, context: V2Context) {
  const actions = request.method === 'GET' ? (['pull'] as const) : (['pull', 'push'] as const);
  await context.access.require(request, { kind: 'repository', repository: name, actions: [...actions] });
  try {
    return await sessionRequest(name, id, request, reply, query, context);
  } catch (error) {
    throw await withSessionState(error, name, id, context);
  }
}

async function sessionRequest(name: string, id: string, request: FastifyRequest, reply: FastifyReply, query: URLSearchParams, context: V2Context) {
  const { registry } = context;
  switch (request.method) {
    case 'GET': {
      const status = await registry.uploadStatus(name, id);
      return reply.code(204).headers(sessionHeaders(status, context)).send();
    }
    case 'PATCH': {
      const range = parseContentRange(request.headers['content-range']);
      checkDeclaredLength(request, range);
      const status = await registry.appendUpload(name, id, request.raw, range);
      return reply.code(202).headers(sessionHeaders(status, context)).send();
    }
    case 'PUT': {
      const digest = query.get('digest');
      if (digest === null) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required to finish an upload');
      const range = parseContentRange(request.headers['content-range']);
      if (hasBody(request)) checkDeclaredLength(request, range);
      const blob = await registry.finishUpload(name, id, digest, hasBody(request) ? request.raw : undefined, range);
      context.access.record?.(request, { action: 'push', repository: name, digest: blob.digest });
      return reply.code(201).headers(createdHeaders(name, blob.digest, context)).send();
    }
    case 'DELETE': {
      await registry.cancelUpload(name, id);
      return reply.code(204).send();
    }
    default:
      throw new RegistryError('UNSUPPORTED', `method ${request.method} is not supported on an upload session`);
  }
}
