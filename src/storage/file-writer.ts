import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { chunksOf } from '../lib/streams.js';
import type { BufferPool } from '../lib/buffer-pool.js';
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
 * in flight and the piece being gathered (without `direct`; the mirror's spool, which readers
 * follow, writes through the page cache).
 */
export const UNWRITTEN_BYTES = WRITE_SIZE * (WRITE_DEPTH + 1);

/**
 * Writes a body's first piece (its buffers, in order) instead of a positional write, and resolves
 * once it is written; the other writes wait for it. The filesystem driver claims an upload's
 * offset this way.
 */
export type FirstWrite = (buffers: Buffer[]) => Promise<void>;

/** O_DIRECT needs the file position, the length and the memory of each write on this boundary. */
export const DIRECT_ALIGNMENT = 4096;

/**
 * Bytes per O_DIRECT write: the device takes them straight from the buffer, so larger means fewer
 * trips through the thread pool, at this much memory per write in flight.
 */
export const DIRECT_WRITE_SIZE = 256 << 10;

/**
 * A second handle on the same file, opened with O_DIRECT, and the pool of page-aligned buffers
 * (`pageAlignedBuffers`) its writes are gathered in. The pool's `lendAtMost` bounds their memory:
 * past it, pieces go through the page cache as without one.
 */
export interface DirectWrites {
  handle: FileHandle;
  buffers: BufferPool;
}

/**
 * Writes `body` into `handle` from `start` on; resolves to the number of bytes written. The
 * network's chunks are written as they are, gathered by writev(2) into WRITE_SIZE pieces (a chunk
 * that straddles a boundary is split, not copied), up to WRITE_DEPTH pieces in flight at explicit
 * positions (no O_APPEND, whose order the thread pool would not keep). When a write fails, the
 * file is cut back to `start`, so it never keeps a hole; so it is when the body fails with
 * `UploadLengthError` (a refused chunk keeps nothing). When the body fails otherwise, what was
 * written is a contiguous prefix and stays.
 *
 * With `direct`, every piece after the first is copied into an aligned buffer and written past the
 * page cache, DIRECT_WRITE_SIZE at a time (the first piece ends on an aligned position for that;
 * the last one's unaligned tail goes through `handle`). Why: docs/benchmarks.md, "Writes past the
 * page cache".
 */
export interface WriteBodyOptions {
  firstWrite?: FirstWrite | undefined;
  /** Sees each chunk, in order, before it is written; throwing fails the body with that error. */
  onChunk?: ((chunk: Buffer) => void) | undefined;
  direct?: DirectWrites | undefined;
}

export async function writeBody(handle: FileHandle, start: number, body: Readable, options: WriteBodyOptions = {}): Promise<number> {
  const { firstWrite, onChunk, direct } = options;
  const inFlight: Promise<void>[] = [];
  // The piece being gathered: the chunks' own buffers, or one aligned buffer they are copied into.
  let piece: Buffer[] = [];
  let aligned: Buffer | undefined;
  let filled = 0;
  let position = start;
  let writeFailed = false;
  // Whether bytes past `start` are ours: until the first write landed they may be another append's.
  let claimed = false;

  /** The size of the piece that starts at `position`; whether it goes past the page cache. */
  const nextPiece = (): number => {
    if (position === start) return direct ? WRITE_SIZE - (start % DIRECT_ALIGNMENT) : WRITE_SIZE;
    aligned = direct?.buffers.tryTake();
    return aligned ? aligned.length : WRITE_SIZE;
  };
  let size = nextPiece();

  const track = (write: Promise<void>) => {
    const tracked = write.catch((error: unknown) => {
      writeFailed = true;
      throw error;
    });
    // Awaited in turn below; marked handled so a failure while another write is awaited is not
    // reported as unhandled.
    tracked.catch(() => undefined);
    inFlight.push(tracked);
  };

  const issue = async () => {
    // A slot first, while the piece is still in `piece`/`aligned`: if the oldest write failed,
    // the `finally` below finds the aligned buffer there and gives it back.
    if (inFlight.length === WRITE_DEPTH) await inFlight.shift();
    const at = position;
    const length = filled;
    const buffers = piece;
    const buffer = aligned;
    piece = [];
    aligned = undefined;
    filled = 0;
    position += length;
    if (buffer) {
      // Only whole blocks go direct; the last piece's tail goes through the page cache.
      const whole = length - (length % DIRECT_ALIGNMENT);
      claimed = true;
      track(
        (async () => {
          try {
            if (whole > 0) await writeAllv(direct!.handle, [buffer.subarray(0, whole)], at);
            if (whole < length) await writeAllv(handle, [buffer.subarray(whole, length)], at + whole);
          } finally {
            direct!.buffers.give(buffer);
          }
        })(),
      );
    } else if (firstWrite && at === start) {
      await firstWrite(buffers);
      claimed = true;
    } else {
      claimed = true;
      track(writeAllv(handle, buffers, at));
    }
    size = nextPiece();
  };

  try {
    for await (const chunk of chunksOf(body)) {
      onChunk?.(chunk);
      for (let offset = 0; offset < chunk.length; ) {
        const take = Math.min(size - filled, chunk.length - offset);
        if (aligned) chunk.copy(aligned, filled, offset, offset + take);
        else piece.push(offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
        filled += take;
        offset += take;
        if (filled === size) await issue();
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
  } finally {
    if (aligned) direct!.buffers.give(aligned);
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
