import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { BufferPool } from '../lib/buffer-pool.js';
import { UploadLengthError } from './driver.js';

/**
 * 64 KiB per write(2). The kernel sizes page-cache folios after the write, and large folios need
 * large free blocks: on a VM with free page reporting (virtio-balloon) those are the blocks the
 * host has most surely taken back, where every page costs a host fault. Measured on the 2-core
 * benchmark VM: ~1.4 s of kernel time per 512 MiB pushed with 1 MiB writes, ~0.4-0.5 s with 64 KiB
 * ones, whose small folios still find recently freed memory. (CNCF Distribution writes 32 KiB.)
 * See docs/benchmarks.md, "Why 64 KiB writes".
 */
export const WRITE_SIZE = 64 << 10;

/** Writes issued at once: the thread pool keeps writing while the event loop hashes and parses. */
const WRITE_DEPTH = 4;

/** Enough buffers for a few concurrent uploads without allocating. */
export const writeBufferPool = (): BufferPool => new BufferPool(WRITE_SIZE, WRITE_DEPTH * 8);

/**
 * Writes a body's first buffer instead of a positional write, and resolves once it is written;
 * the other writes wait for it. The filesystem driver claims an upload's offset this way.
 */
export type FirstWrite = (buffer: Buffer, length: number) => Promise<void>;

/**
 * Writes `body` into `handle` from `start` on; resolves to the number of bytes written. Network
 * chunks are gathered into pooled WRITE_SIZE buffers, up to WRITE_DEPTH of them in flight at
 * explicit positions (no O_APPEND, whose order the thread pool would not keep). When a write
 * fails, the file is cut back to `start`, so it never keeps a hole; so it is when the body fails
 * with `UploadLengthError` (a refused chunk keeps nothing). When the body fails otherwise, what
 * was written is a contiguous prefix and stays.
 */
export async function writeBody(handle: FileHandle, start: number, body: Readable, pool: BufferPool, firstWrite?: FirstWrite): Promise<number> {
  const inFlight: Promise<void>[] = [];
  let buffer = pool.take();
  let filled = 0;
  let position = start;
  let writeFailed = false;
  // Whether bytes past `start` are ours: until the first write landed they may be another append's.
  let claimed = false;

  const issue = async () => {
    const full = buffer;
    if (firstWrite && position === start) {
      await firstWrite(full, filled);
      pool.give(full);
      claimed = true;
    } else {
      claimed = true;
      if (inFlight.length === WRITE_DEPTH) await inFlight.shift();
      const write = writeAll(handle, full, filled, position).then(
        () => pool.give(full),
        (error: unknown) => {
          writeFailed = true;
          throw error;
        },
      );
      // Awaited in turn below; marked handled so a failure while another write is awaited is not
      // reported as unhandled.
      write.catch(() => undefined);
      inFlight.push(write);
    }
    position += filled;
    buffer = pool.take();
    filled = 0;
  };

  try {
    for await (const chunk of body) {
      const bytes = chunk as Buffer;
      for (let offset = 0; offset < bytes.length; ) {
        const copied = bytes.copy(buffer, filled, offset);
        filled += copied;
        offset += copied;
        if (filled === buffer.length) await issue();
      }
    }
    if (filled > 0) await issue();
    for (const write of inFlight.splice(0)) await write;
    return position - start;
  } catch (error) {
    await Promise.allSettled(inFlight);
    if (writeFailed || (claimed && error instanceof UploadLengthError)) await handle.truncate(start).catch(() => undefined);
    throw error;
  } finally {
    pool.give(buffer);
  }
}

/** Writes `length` bytes of `buffer` at `position`, or at the file's end for a null position on an O_APPEND handle. */
export async function writeAll(handle: FileHandle, buffer: Buffer, length: number, position: number | null): Promise<void> {
  for (let written = 0; written < length; ) {
    const at = position === null ? null : position + written;
    written += (await handle.write(buffer, written, length - written, at)).bytesWritten;
  }
}
