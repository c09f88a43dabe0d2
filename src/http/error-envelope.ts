import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
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

/** A Fastify error handler that answers with the OCI error envelope. */
export function ociErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const mapped = toHttpError(error);
  // A client that hung up mid-body surfaces as whatever layer was reading (storage wraps it as a
  // BackendError): not a server failure, so not logged as one.
  const clientGone = isClientAbort(error) || isClientAbort((error as Error | undefined)?.cause) || request.raw.socket?.destroyed === true;
  if (clientGone) request.log.info({ reason: (error as Error | undefined)?.message }, 'client aborted the request');
  else if (mapped.internal) request.log.error({ err: error }, 'request failed');
  // A fully read request body is destroyed too (autoDestroy), so ask whether the *response* can
  // still be written: only a closed socket means the client is gone.
  if (reply.raw.headersSent || reply.raw.destroyed || request.raw.socket?.destroyed) return;
  // Connection: close when the client's body may still be in flight (e.g. a refused upload).
  // Discard the rest of it meanwhile: closing on unread data would reset the connection and the
  // client could lose this reply.
  if (!request.raw.readableEnded && request.raw.readable) {
    reply.header('Connection', 'close');
    request.raw.resume();
  }
  return reply.code(mapped.status).headers(mapped.headers).type('application/json').send(mapped.body);
}

export function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error | undefined)?.message === 'aborted';
}
