import cluster from 'node:cluster';
import { channel } from 'node:diagnostics_channel';
import { closeSync } from 'node:fs';
import { Socket, type Server, type SocketConstructorOpts } from 'node:net';
import type { Libc, LibcOrReason } from '../lib/libc.js';

/**
 * Connections accepted in batches: when the event loop accepts a connection, the others already
 * waiting in the listen queue are accepted with it, up to `batch` per turn of the loop.
 *
 * Why: libuv (1.45 on, so Node 20) accepts one connection per turn of the event loop (libuv PR
 * #3696). A turn of a busy server serves every connection that has a request ready, so under load
 * it lasts milliseconds, and a burst of new connections waits in line, the k-th for k turns: 64
 * clients that connect at once while 64 others are served wait up to 250 ms for their first
 * answer, ten times the median (docs/benchmarks.md, "Accepting connections in batches"). Go's
 * net/http, what Distribution runs on, accepts them as they come.
 *
 * How: the connections are accepted with `accept4` (libc.ts) and handed to the server as Node's
 * own accept path does it (lib/net.js, `onconnection`): a `net.Socket` with the server's socket
 * options, counted in its connections (so `close()` waits for them and `maxConnections` holds),
 * then the `connection` event, which the HTTP or TLS server takes from there.
 */
export interface AcceptBatchOptions {
  /** Most connections accepted per turn of the event loop, the loop's own one included. */
  batch: number;
  /** The FFI (`loadLibc()`), loaded before the server listens: see acceptInBatches. */
  libc: LibcOrReason;
  /** Called per connection accepted: `batched` when this module took it, else the loop did. */
  onAccepted?(batched: boolean): void;
}

export type AcceptBatching = { batch: number } | { unavailable: string };

/** What Node's net.Server keeps for its own accept path; read and kept the same way here. */
interface ServerInternals {
  _handle: { fd?: number } | null;
  _connections: number;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  /** In seconds. */
  keepAliveInitialDelay: number;
  highWaterMark: number;
}

const serverSocketChannel = channel('net.server.socket');

/**
 * Counts the connections `server` accepts (`onAccepted`) and, when it can, accepts them in
 * batches; returns the batch or why there is none (then the loop accepts alone). Synchronous, with
 * the FFI loaded beforehand: between the port answering and the caller's next step (serve.ts
 * installs its signal handlers) nothing may wait — a SIGTERM in such a gap would stop the process
 * undrained.
 */
export function acceptInBatches(server: Server, options: AcceptBatchOptions): AcceptBatching {
  const internals = server as unknown as Server & ServerInternals;
  const batching = batchingFor(internals, options);
  const libc = 'batch' in batching ? (options.libc as Libc) : undefined;
  let adopting = false;
  server.on('connection', () => {
    if (adopting) return; // one this listener handed over
    options.onAccepted?.(false);
    if (!libc) return;
    adopting = true;
    try {
      acceptWaiting(internals, libc, options);
    } finally {
      adopting = false;
    }
  });
  return batching;
}

function batchingFor(server: Server & ServerInternals, options: AcceptBatchOptions): AcceptBatching {
  if (options.batch <= 1) return { unavailable: 'http.acceptBatch is 1' };
  // A worker's handle is the primary's (which accepts and passes connections on); greedy accepts
  // on a shared socket would take other workers' connections.
  if (cluster.isWorker) return { unavailable: 'a cluster worker: the primary accepts' };
  if (typeof server._handle?.fd !== 'number' || server._handle.fd < 0) return { unavailable: 'the server has no listening socket' };
  if ('unavailable' in options.libc) return options.libc;
  return { batch: options.batch };
}

function acceptWaiting(server: Server & ServerInternals, libc: Libc, options: AcceptBatchOptions): void {
  for (let accepted = 1; accepted < options.batch; accepted++) {
    // Read at every accept: once the server is closed its descriptor's number may name another file.
    const fd = server._handle?.fd;
    if (fd === undefined || fd < 0) return;
    // Left to the loop's accept, which refuses it as Node does (the 'drop' event).
    if (server.maxConnections && server._connections >= server.maxConnections) return;
    // None waiting (EAGAIN), or an error the loop's next accept meets and reports.
    const client = libc.acceptNonBlocking(fd);
    if (client < 0) return;
    const socket = adopt(server, client);
    if (!socket) continue;
    options.onAccepted?.(true);
    server.emit('connection', socket);
    if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
  }
}

/** The socket Node's accept path would have made of descriptor `fd`, counted in `server`'s connections. */
function adopt(server: Server & ServerInternals, fd: number): Socket | undefined {
  // The options onconnection passes; @types/node lists only some of them.
  const options: SocketConstructorOpts & { pauseOnCreate: boolean; readableHighWaterMark: number; writableHighWaterMark: number } = {
    fd,
    allowHalfOpen: server.allowHalfOpen,
    pauseOnCreate: server.pauseOnConnect,
    readable: true,
    writable: true,
    readableHighWaterMark: server.highWaterMark,
    writableHighWaterMark: server.highWaterMark,
  };
  let socket: Socket;
  try {
    socket = new Socket(options);
  } catch {
    closeSync(fd); // not a socket Node can open: nobody else will close it
    return undefined;
  }
  if (server.noDelay) socket.setNoDelay(true);
  if (server.keepAlive) socket.setKeepAlive(true, server.keepAliveInitialDelay * 1000);
  server._connections++;
  Object.assign(socket, { server, _server: server });
  return socket;
}
