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

/** Per socket: its byte counters when its previous request finished (keep-alive carries many). */
const marks = new WeakMap<object, SocketMark>();

/**
 * The bytes `request` moved on its socket: what the socket read and wrote since the previous
 * request on it finished (requests on one HTTP/1.1 socket come one at a time). Wire bytes: request
 * line, headers and body in; status line, headers and body out. Call once, when it finished.
 */
export function transferred(request: FastifyRequest): { bytesIn: number; bytesOut: number } {
  const socket = request.raw.socket;
  if (!socket) return { bytesIn: 0, bytesOut: 0 };
  const mark = marks.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  marks.set(socket, now);
  return { bytesIn: Math.max(0, now.read - mark.read), bytesOut: Math.max(0, now.written - mark.written) };
}

/** Measures every request once and hands the figures to `onFinished` consumers (metrics, access log). */
export function markTransfer(app: FastifyInstance): void {
  app.addHook('onResponse', async (request) => {
    transfers.set(request, transferred(request));
  });
}

const transfers = new WeakMap<FastifyRequest, { bytesIn: number; bytesOut: number }>();

/** The figures `markTransfer` measured for `request` (zeros before it finished). */
export function transferOf(request: FastifyRequest): { bytesIn: number; bytesOut: number } {
  return transfers.get(request) ?? { bytesIn: 0, bytesOut: 0 };
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
      const { bytesIn, bytesOut } = transferOf(request);
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
