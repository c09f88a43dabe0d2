import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate as nextTick } from 'node:timers/promises';

export const MiB = 1024 * 1024;
const BLOCK = MiB;

/**
 * Block `index` (1 MiB) of the pseudo-random byte stream named by `seed`: xorshift32 seeded from
 * both, so any block can be regenerated on its own (range checks without holding the object).
 */
export function prngBlock(seed: number, index: number): Buffer {
  const words = new Uint32Array(BLOCK / 4);
  let state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    words[i] = state;
  }
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength);
}

/** Bytes [start, end) of the stream named by `seed`. For small ranges and small objects. */
export function prngBytes(seed: number, start: number, end: number): Buffer {
  const out = Buffer.alloc(end - start);
  let written = 0;
  for (let index = Math.floor(start / BLOCK); start + written < end; index++) {
    const block = prngBlock(seed, index);
    const from = Math.max(0, start + written - index * BLOCK);
    written += block.copy(out, written, from, Math.min(BLOCK, end - index * BLOCK));
  }
  return out;
}

/** Bytes [start, end) of the stream named by `seed`, generated block by block, never whole. */
export function prngStream(seed: number, start: number, end: number, chunk = BLOCK): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (let offset = start; offset < end; ) {
      const index = Math.floor(offset / BLOCK);
      const block = prngBlock(seed, index);
      const from = offset - index * BLOCK;
      const to = Math.min(BLOCK, end - index * BLOCK, from + chunk);
      yield block.subarray(from, to);
      offset += to - from;
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

/** sha256 (hex) of `size` bytes of the stream named by `seed`, computed without holding them. */
export function prngDigest(seed: number, size: number): string {
  const hash = createHash('sha256');
  for (let index = 0; index * BLOCK < size; index++) {
    hash.update(prngBlock(seed, index).subarray(0, Math.min(BLOCK, size - index * BLOCK)));
  }
  return hash.digest('hex');
}

export async function streamDigest(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    size += buffer.length;
  }
  return { sha256: hash.digest('hex'), size };
}

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of `bytes` in `chunk`-sized pieces. */
export function chunked(bytes: Buffer, chunk = 64 * 1024): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < bytes.length; offset += chunk) yield bytes.subarray(offset, offset + chunk);
  }
  return Readable.from(generate(), { objectMode: false });
}

/** Sends `bytes`, then fails like a client that went away (or with `error`). */
export function failingStream(bytes: Buffer, chunk = 256 * 1024, error: Error = new Error('client went away')): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      yield bytes.subarray(offset, offset + chunk);
      await nextTick();
    }
    throw error;
  }
  return Readable.from(generate(), { objectMode: false });
}
