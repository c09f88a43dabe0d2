import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BackendError, RegistryError, type ErrorCode } from '../errors.js';

export interface ErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

/** The one place an error becomes a status and a body. Internals never reach the client. */
export function toHttpError(error: unknown): { status: number; headers: Record<string, string>; body: ErrorBody; internal: boolean } {
  if (error instanceof RegistryError) {
    const entry: ErrorBody['errors'][number] = { code: error.code, message: error.message };
    if (error.detail !== undefined) entry.detail = error.detail;
    return { status: error.status, headers: error.headers, body: { errors: [entry] }, internal: false };
  }
  if (error instanceof BackendError) {
    return { status: 503, headers: { 'Retry-After': '5' }, body: envelope('UNAVAILABLE', 'a storage or database backend is unavailable'), internal: true };
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ErrorCode = status === 413 ? 'SIZE_INVALID' : status === 404 ? 'NOT_FOUND' : status === 405 ? 'UNSUPPORTED' : 'INVALID_REQUEST';
    return { status, headers: {}, body: envelope(code, fastifyError.message ?? 'invalid request'), internal: false };
  }
  return { status: 500, headers: {}, body: envelope('UNKNOWN', 'internal server error'), internal: true };
}

function envelope(code: string, message: string): ErrorBody {
  return { errors: [{ code, message }] };
}

/**
 * A refused request whose body is still unread (an oversize manifest, an out-of-order chunk) is
 * drained up to this many bytes before the reply, so the connection stays usable: a client still
 * writing when the server closes gets EPIPE/ECONNRESET instead of our error. Larger bodies are
 * discarded while the reply goes out with `Connection: close`.
 */
const DRAIN_BEFORE_REPLY_BYTES = 16 << 20;

/** Reads and drops the rest of `request`'s body; true when it ended within `limit` bytes. */
async function drainBody(request: FastifyRequest, limit: number): Promise<boolean> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= limit)) return false;
  let seen = 0;
  try {
    for await (const chunk of request.raw.iterator({ destroyOnReturn: false })) {
      seen += (chunk as Buffer).length;
      if (seen > limit) return false;
    }
  } catch {
    return false;
  }
  return request.raw.readableEnded;
}

/** A Fastify error handler that answers with the OCI error envelope. */
export async function ociErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const mapped = toHttpError(error);
  // A client that hung up mid-body surfaces as the error of whatever was reading its body: not a
  // server failure. The access log's 'request aborted' line (at info) tells of it; this is detail.
  const clientGone = isClientAbort(error) || request.raw.socket?.destroyed === true;
  if (clientGone) request.log.debug({ reason: (error as Error | undefined)?.message }, 'client aborted the request');
  // A dependency that is down fails every request alike: one line each, without a stack.
  else if (error instanceof BackendError) request.log.warn({ backend: error.backend, reason: error.message }, 'backend unavailable');
  else if (mapped.internal) request.log.error({ err: error }, 'request failed');
  if (!request.raw.readableEnded && request.raw.readable && !(await drainBody(request, DRAIN_BEFORE_REPLY_BYTES))) {
    // Too much to drain: discard the rest while the reply goes out, then close.
    reply.header('Connection', 'close');
    request.raw.resume();
  }
  // A fully read request body is destroyed too (autoDestroy), so ask whether the *response* can
  // still be written: only a closed socket means the client is gone.
  if (reply.raw.headersSent || reply.raw.destroyed || request.raw.socket?.destroyed) return reply;
  return reply.code(mapped.status).headers(mapped.headers).type('application/json').send(mapped.body);
}

export function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error | undefined)?.message === 'aborted';
}

/**
 * Node's `clientError`: a request its HTTP parser refused before Fastify saw it — headers too
 * large (431), a malformed request line, header or chunk (400), a request not received in time
 * (408). Answered in the same envelope as every other error, then the connection is closed: the
 * parser cannot find the next request in what follows.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket, log: FastifyBaseLogger): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'request header fields too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'the request was not received in time']
        : [400, 'malformed HTTP request'];
  log.debug({ code: error.code, status }, 'client error');
  // A response already under way on this connection (a body that broke mid-request) cannot be
  // followed by another: only the close tells the client.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && current?.headersSent !== true) {
    const body = JSON.stringify(envelope('INVALID_REQUEST', message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
