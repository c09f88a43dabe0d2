import type { FastifyRequest } from 'fastify';
import type { WriteContext } from '../registry/hooks.js';

/** Who a request acts as (named once its credentials were checked) and what it was, for events and histories. */
export function writeContextOf(request: FastifyRequest): WriteContext {
  const actor = (request as { principalName?: string }).principalName;
  return {
    actor: actor || 'anonymous',
    request: {
      id: request.id,
      addr: request.ip,
      host: request.headers.host ?? '',
      method: request.method,
      userAgent: request.headers['user-agent'] ?? '',
    },
  };
}
