import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { chunksOf } from '../lib/streams.js';
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

/**
 * Bytes of earlier chunks that may not be in the file yet when `onChunk` sees a chunk: the writes
 * in flight and the piece being gathered.
 */
export const UNWRITTEN_BYTES = WRITE_SIZE * (WRITE_DEPTH + 1);

/**
 * Writes a body's first piece (its buffers, in order) instead of a positional write, and resolves
 * once it is written; the other writes wait for it. The filesystem driver claims an upload's
 * offset this way.
 */
export type FirstWrite = (buffers: Buffer[]) => Promise<void>;

/**
 * Writes `body` into `handle` from `start` on; resolves to the number of bytes written. The
 * network's chunks are written as they are, gathered by writev(2) into WRITE_SIZE pieces (a chunk
 * that straddles a boundary is split, not copied), up to WRITE_DEPTH pieces in flight at explicit
 * positions (no O_APPEND, whose order the thread pool would not keep). When a write fails, the
 * file is cut back to `start`, so it never keeps a hole; so it is when the body fails with
 * `UploadLengthError` (a refused chunk keeps nothing). When the body fails otherwise, what was
 * written is a contiguous prefix and stays.
 */
export interface WriteBodyOptions {
  firstWrite?: FirstWrite | undefined;
  /** Sees each chunk, in order, before it is written; throwing fails the body with that error. */
  onChunk?: ((chunk: Buffer) => void) | undefined;
}

export async function writeBody(handle: FileHandle, start: number, body: Readable, options: WriteBodyOptions = {}): Promise<number> {
  const { firstWrite, onChunk } = options;
  const inFlight: Promise<void>[] = [];
  let piece: Buffer[] = [];
  let filled = 0;
  let position = start;
  let writeFailed = false;
  // Whether bytes past `start` are ours: until the first write landed they may be another append's.
  let claimed = false;

  const issue = async () => {
    const buffers = piece;
    const length = filled;
    piece = [];
    filled = 0;
    if (firstWrite && position === start) {
      await firstWrite(buffers);
      claimed = true;
    } else {
      claimed = true;
      if (inFlight.length === WRITE_DEPTH) await inFlight.shift();
      const write = writeAllv(handle, buffers, position).catch((error: unknown) => {
        writeFailed = true;
        throw error;
      });
      // Awaited in turn below; marked handled so a failure while another write is awaited is not
      // reported as unhandled.
      write.catch(() => undefined);
      inFlight.push(write);
    }
    position += length;
  };

  try {
    for await (const chunk of chunksOf(body)) {
      onChunk?.(chunk);
      for (let offset = 0; offset < chunk.length; ) {
        const take = Math.min(WRITE_SIZE - filled, chunk.length - offset);
        piece.push(offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
        filled += take;
        offset += take;
        if (filled === WRITE_SIZE) await issue();
      }
    }
    if (filled > 0) await issue();
    // Each stays listed until it is awaited: when one fails, the catch below waits for the rest
    // before it truncates, so no write lands after the cut.
    while (inFlight.length > 0) await inFlight.shift();
    return position - start;
  } catch (error) {
    await Promise.allSettled(inFlight);
    if (writeFailed || (claimed && error instanceof UploadLengthError)) await handle.truncate(start).catch(() => undefined);
    throw error;
  }
}

/**
 * Writes `buffers` in order at `position`, or at the file's end for a null position on an
 * O_APPEND handle, however many calls that takes.
 */
export async function writeAllv(handle: FileHandle, buffers: Buffer[], position: number | null): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    let written = (await handle.writev(rest, at ?? undefined)).bytesWritten;
    if (at !== null) at += written;
    // Drop what was written; a partly written buffer continues from where it stopped.
    let i = 0;
    while (i < rest.length && written >= rest[i]!.length) written -= rest[i++]!.length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = rest[0]!.subarray(written);
  }
}
