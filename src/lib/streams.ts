import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Hash } from 'node:crypto';

/** 1 MiB: large enough for disk and socket throughput, small enough to keep memory flat. */
export const STREAM_HIGH_WATER_MARK = 1 << 20;

/** Passes bytes through unchanged while feeding a hash and counting them. */
export class HashingCounter extends Transform {
  bytes = 0;
  constructor(private readonly hash: Hash | null) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    callback(null, chunk);
  }
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
