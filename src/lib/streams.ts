import { finished, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import type { Hash } from 'node:crypto';

/** 1 MiB: large enough for disk and socket throughput, small enough to keep memory flat. */
export const STREAM_HIGH_WATER_MARK = 1 << 20;

/** A body that must carry exactly `length` bytes, and the error that refuses it otherwise. */
export interface ExactLength {
  length: number;
  refuse: (received: number) => Error;
}

/**
 * Passes bytes through unchanged while feeding a hash and counting them. With `exact`, it fails
 * as soon as a chunk would pass the length (that chunk is not passed on) and at the end when
 * fewer bytes came.
 */
export class HashingCounter extends Transform {
  bytes = 0;
  constructor(private readonly hash: Hash | null, private readonly exact?: ExactLength) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.exact && this.bytes + chunk.length > this.exact.length) {
      callback(this.exact.refuse(this.bytes + chunk.length));
      return;
    }
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    callback(this.exact && this.bytes !== this.exact.length ? this.exact.refuse(this.bytes) : null);
  }
}

/**
 * Pipes `source` into `target` without ever destroying `source`, unlike `pipeline`: destroying an
 * HTTP request destroys its socket, and the server still wants to answer. When `source` fails or
 * closes early, `target` is destroyed with that error; when `target` fails, `source` is unpiped
 * and left paused for its owner to drain or discard.
 */
export function feed(source: Readable, target: Writable): void {
  // The listeners `finished` leaves behind also catch a late 'error', which would otherwise crash.
  finished(source, { writable: false }, (error) => {
    if (error) target.destroy(error);
  });
  // The consumer of `target` learns of its error from the stream itself, even if it only starts
  // reading later: until then, an 'error' with no listener would crash the process.
  target.on('error', () => undefined);
  source.pipe(target);
}

/** Fails the stream once more than `limit` bytes have passed. */
export class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number, private readonly makeError: () => Error) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) callback(this.makeError());
    else callback(null, chunk);
  }
}

/** Reads a whole small stream into memory, refusing more than `limit` bytes. Never for blobs. */
export async function readSmall(stream: Readable, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      stream.destroy();
      throw tooLarge();
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Drains and discards a stream (e.g. a body we will not use), so the socket can be reused. */
export async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}

/**
 * The chunks of `stream` one by one, as they arrived, with backpressure (at most `queued`
 * waiting). Unlike `for await (… of stream)`, whose `read()` joins whatever is buffered into one
 * new Buffer (an extra copy of every byte of a blob, in fresh memory), this never copies. Ends
 * with the stream's error, or a premature-close error; never destroys the stream.
 */
export async function* chunksOf(stream: Readable, queued = 4): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let done = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= queued) stream.pause();
    notify();
  };
  stream.on('data', onData);
  stream.resume();
  // Its listeners stay after the loop: a late 'error' with no listener would crash the process.
  finished(stream, { writable: false }, (error) => {
    if (error) failure = error;
    done = true;
    notify();
  });
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        if (queue.length < queued && stream.isPaused() && !done) stream.resume();
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stream.off('data', onData);
    // Stopped early (the consumer failed): leave it paused for its owner to drain or discard.
    if (!done) stream.pause();
  }
}
