import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

/*
 * What requestEnd keeps per socket and per request lives on the object itself, under a symbol,
 * not in WeakMaps: a WeakMap entry per request kept ~25 % of a manifest GET's short-lived objects
 * alive through a young-generation collection, so they were promoted and grew the old generation
 * under load (docs/benchmarks.md, "Peak memory").
 */
const socketMark = Symbol('wharf.bytesAtLastRequest');
const endOfRequest = Symbol('wharf.requestEnd');
type Marked<K extends symbol, V> = { [key in K]?: V };

/**
 * The bytes `request` moved on its socket: what the socket read and wrote since the previous
 * request on it finished (requests on one HTTP/1.1 socket come one at a time). Wire bytes: request
 * line, headers and body in; status line, headers and body out. Call once, when it finished.
 */
function transferred(request: FastifyRequest): { bytesIn: number; bytesOut: number } {
  const socket = request.raw.socket;
  if (!socket) return { bytesIn: 0, bytesOut: 0 };
  const marked = socket as typeof socket & Marked<typeof socketMark, SocketMark>;
  const mark = (marked[socketMark] ??= { read: 0, written: 0 });
  const bytesIn = Math.max(0, socket.bytesRead - mark.read);
  const bytesOut = Math.max(0, socket.bytesWritten - mark.written);
  // Updated in place: one mark object for the socket's life.
  mark.read = socket.bytesRead;
  mark.written = socket.bytesWritten;
  return { bytesIn, bytesOut };
}

/** How a request ended. */
export interface RequestEnd {
  /**
   * The client hung up before the response was complete (mid-upload or mid-download). A response
   * the server cut off itself (a store failing mid-body) is destroyed with that error: not this.
   */
  aborted: boolean;
  bytesIn: number;
  bytesOut: number;
}

/**
 * How `request` ended, measured on the first call and the same for every later one. Call it from
 * a 'close' listener of `reply.raw`: that fires once the response finished or the connection
 * went away first, while Fastify's onResponse never runs for the latter.
 */
export function requestEnd(request: FastifyRequest, reply: FastifyReply): RequestEnd {
  const marked = request as FastifyRequest & Marked<typeof endOfRequest, RequestEnd>;
  return (marked[endOfRequest] ??= { aborted: !reply.raw.writableFinished && !reply.raw.errored, ...transferred(request) });
}

/** The route label: the surface's kind, else Fastify's route pattern (never the raw path). */
export function routeLabel(request: FastifyRequest): string {
  return request.routeKind ?? request.routeOptions.url ?? 'unmatched';
}

/**
 * Root hooks counting every request of every surface (install before the surfaces). In-flight
 * goes down when the connection is done with the request, answered or not; a request the client
 * abandoned is counted as an abort, not as a response with a status.
 */
export function metricsHooks(metrics: WharfMetrics): (app: FastifyInstance) => void {
  return (app) => {
    app.addHook('onRequest', async (request, reply) => {
      metrics.inFlight.inc();
      reply.raw.once('close', () => {
        metrics.inFlight.dec();
        const route = routeLabel(request);
        const method = request.method;
        const { aborted, bytesIn, bytesOut } = requestEnd(request, reply);
        if (aborted) metrics.clientAborts.inc({ route, method });
        else {
          metrics.requests.inc({ route, method, status: String(reply.statusCode) });
          metrics.duration.observe({ route, method }, reply.elapsedTime / 1000);
        }
        if (bytesIn > 0) metrics.bytesIn.inc({ route }, bytesIn);
        if (bytesOut > 0) metrics.bytesOut.inc({ route }, bytesOut);
      });
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
