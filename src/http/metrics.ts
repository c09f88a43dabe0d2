import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WharfMetrics } from '../lib/metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Low-cardinality route label set by a surface (the /v2 route kind: blob, manifest, …). */
    routeKind?: string;
    /** The repository a /v2 request names, for the access log. */
    repository?: string;
  }
}

interface SocketMark {
  read: number;
  written: number;
}

const marks = new WeakMap<FastifyRequest, SocketMark>();

/**
 * Remembers the socket's byte counters when a request starts, so that `transferred` can tell the
 * bytes this request moved (keep-alive sockets carry many requests, one at a time). Bytes in are
 * the body (headers were read before the mark); bytes out include the response headers.
 */
export function markTransfer(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const socket = request.raw.socket;
    marks.set(request, { read: socket?.bytesRead ?? 0, written: socket?.bytesWritten ?? 0 });
  });
}

export function transferred(request: FastifyRequest): { bytesIn: number; bytesOut: number } {
  const mark = marks.get(request);
  const socket = request.raw.socket;
  if (!mark || !socket) return { bytesIn: 0, bytesOut: 0 };
  return { bytesIn: Math.max(0, socket.bytesRead - mark.read), bytesOut: Math.max(0, socket.bytesWritten - mark.written) };
}

/** The route label: the surface's kind, else Fastify's route pattern (never the raw path). */
export function routeLabel(request: FastifyRequest): string {
  return request.routeKind ?? request.routeOptions.url ?? 'unmatched';
}

/** Root hooks counting every request of every surface (install before the surfaces). */
export function metricsHooks(metrics: WharfMetrics): (app: FastifyInstance) => void {
  return (app) => {
    app.addHook('onRequest', async () => {
      metrics.inFlight.inc();
    });
    app.addHook('onResponse', async (request, reply) => {
      metrics.inFlight.dec();
      const route = routeLabel(request);
      const method = request.method;
      metrics.requests.inc({ route, method, status: String(reply.statusCode) });
      metrics.duration.observe({ route, method }, reply.elapsedTime / 1000);
      const { bytesIn, bytesOut } = transferred(request);
      if (bytesIn > 0) metrics.bytesIn.inc({ route }, bytesIn);
      if (bytesOut > 0) metrics.bytesOut.inc({ route }, bytesOut);
    });
  };
}

/** `GET <path>`: the Prometheus exposition. */
export function metricsPlugin(metrics: WharfMetrics, path: string) {
  return async (app: FastifyInstance) => {
    app.get(path, async (_request, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
    });
  };
}
