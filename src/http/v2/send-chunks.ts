import type { FastifyReply } from 'fastify';
import type { ChunkWriter } from '../../lib/buffer-pool.js';

/**
 * Sends a body produced chunk by chunk into reused buffers (see `StorageDriver.pipeTo`). Each
 * chunk's promise resolves only when the socket is done with it, so the producer can reuse the
 * memory: no per-chunk allocation, hence no page faults and no GC pressure at GB/s.
 * Headers go out with the first chunk, so an error before it still gets a normal error reply.
 */
export async function sendChunks(reply: FastifyReply, produce: (write: ChunkWriter) => Promise<void>): Promise<void> {
  const response = reply.raw;
  let started = false;
  let closed: Error | undefined;
  const waiting = new Set<(error: Error) => void>();
  const onClose = () => {
    if (response.writableFinished) return;
    closed = new Error('client closed the connection');
    for (const fail of waiting) fail(closed);
  };
  response.once('close', onClose);

  const writeFailures = new Set<unknown>();
  const write: ChunkWriter = (chunk) => {
    if (!started) {
      started = true;
      reply.hijack();
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) response.setHeader(name, value);
      }
      response.writeHead(reply.statusCode);
    }
    return new Promise<void>((resolve, reject) => {
      if (closed) return reject(closed);
      waiting.add(reject);
      response.write(chunk, (error) => {
        waiting.delete(reject);
        if (error) {
          writeFailures.add(error);
          reject(error);
        } else resolve();
      });
    });
  };

  try {
    await produce(write);
  } catch (error) {
    if (!started) throw error;
    // Headers are out: cutting the connection is the only way to tell the client the body is short.
    // Cut with the producer's error, so it is not taken for the client hanging up (see requestEnd).
    const clientGone = closed !== undefined || writeFailures.has(error);
    response.destroy(clientGone ? undefined : (error as Error));
    return;
  } finally {
    response.removeListener('close', onClose);
  }
  if (!started) {
    await reply.send();
    return;
  }
  response.end();
}
