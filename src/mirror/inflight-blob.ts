import { EventEmitter } from 'node:events';
import { rm, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { newHasher, type Digest } from '../oci/digest.js';
import type { ByteRange } from '../storage/driver.js';
import { UNWRITTEN_BYTES, writeBody } from '../storage/file-writer.js';
import { openFile, privateModes, type FileModes } from '../lib/file-modes.js';
import { STREAM_HIGH_WATER_MARK } from '../lib/streams.js';

export type InflightOutcome = { ok: true } | { ok: false; error: Error };

/**
 * The bytes before the latest chunk kept in memory, as the chunks that brought them: readers that
 * keep up with the download are served those very buffers. More than the bytes writeBody may not
 * have written yet, so whatever is older than the window is surely in the spool file.
 */
const WINDOW_BYTES = Math.max(1 << 20, 2 * UNWRITTEN_BYTES);

/**
 * One upstream download, hashed once and written once to a local spool file, while any number
 * of readers follow it. A reader that keeps up is served from memory (the chunks as they arrived,
 * no copy, no read back); one that falls behind, joins late or asks for a Range reads the spool
 * file at its own pace. The download never waits for a reader. The digest and size are checked
 * when the last byte arrives; only then do readers see the end of the stream — on a mismatch they
 * fail instead, and the spool is never handed to the cache. Once verified, the store adopts the
 * spool file itself (a rename on the filesystem store) rather than a copy of it.
 */
export class InflightBlob {
  /** Bytes received (hashed; in the window or the file). */
  private received = 0;
  private outcome: InflightOutcome | undefined;
  private readers = 0;
  private released = false;
  private closed = false;
  private readonly events = new EventEmitter();
  /** The window: recent chunks and the offset of each. */
  private readonly window: Array<{ offset: number; chunk: Buffer }> = [];
  private windowBytes = 0;
  /** Resolves once the download is verified (ok) or failed; never rejects. */
  readonly settled: Promise<InflightOutcome>;

  private constructor(
    readonly digest: Digest,
    readonly size: number,
    readonly spoolPath: string,
    private readonly file: FileHandle,
    source: Readable,
    private readonly onBytes: (n: number) => void,
  ) {
    this.events.setMaxListeners(0);
    this.settled = this.download(source);
  }

  /** Opens the spool file and starts copying `source` into it. */
  static async start(options: {
    digest: Digest;
    size: number;
    spoolPath: string;
    /** Modes of the spool file (default owner-only). */
    modes?: FileModes;
    source: Readable;
    onBytes?: (n: number) => void;
  }): Promise<InflightBlob> {
    const file = await openFile(options.spoolPath, 'w+', options.modes ?? privateModes);
    return new InflightBlob(options.digest, options.size, options.spoolPath, file, options.source, options.onBytes ?? (() => undefined));
  }

  get bytesReceived(): number {
    return this.received;
  }

  /** Why the download failed, once it has. */
  get failure(): Error | undefined {
    return this.outcome && !this.outcome.ok ? this.outcome.error : undefined;
  }

  private async download(source: Readable): Promise<InflightOutcome> {
    const hash = newHasher(this.digest.algorithm);
    const onChunk = (chunk: Buffer) => {
      if (this.received + chunk.length > this.size) throw new Error(`upstream sent more than the expected ${this.size} bytes`);
      hash.update(chunk);
      this.window.push({ offset: this.received, chunk });
      this.windowBytes += chunk.length;
      // Drop the oldest chunk only while WINDOW_BYTES before this one stay (a large chunk must
      // not push out bytes that are still being written).
      while (this.window.length > 1 && this.windowBytes - chunk.length - this.window[0]!.chunk.length >= WINDOW_BYTES) {
        this.windowBytes -= this.window.shift()!.chunk.length;
      }
      this.received += chunk.length;
      this.onBytes(chunk.length);
      this.events.emit('progress');
    };
    try {
      await writeBody(this.file, 0, source, { onChunk });
      if (this.received !== this.size) throw new Error(`upstream sent ${this.received} of ${this.size} bytes`);
      const actual = `${this.digest.algorithm}:${hash.digest('hex')}`;
      if (actual !== this.digest.value) throw new Error(`upstream sent content with digest ${actual}, not ${this.digest.value}`);
      this.outcome = { ok: true };
    } catch (error) {
      source.destroy();
      this.outcome = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
    }
    this.events.emit('progress');
    return this.outcome;
  }

  /** The bytes from `position` (up to `end`) that the window holds, as a slice of one chunk. */
  private fromWindow(position: number, end: number): Buffer | undefined {
    // From the newest: a reader that keeps up wants one of the last chunks.
    for (let i = this.window.length - 1; i >= 0; i -= 1) {
      const { offset, chunk } = this.window[i]!;
      if (position >= offset) return position < offset + chunk.length ? chunk.subarray(position - offset, Math.min(chunk.length, end - offset)) : undefined;
    }
    return undefined;
  }

  /** A stream of the blob (or `range` of it) that follows the download as it arrives. */
  reader(range?: ByteRange): Readable {
    if (this.released) throw new Error('in-flight blob already released');
    this.readers += 1;
    let position = range?.start ?? 0;
    const end = range?.end ?? this.size;
    // One pump at a time per reader. `read()` may come while it runs — even from inside its own
    // push() — so it only marks the stream as wanting more, and the pump keeps going while it does.
    let running = false;
    let wanted = false;
    let closed = false;
    const stream = new Readable({
      highWaterMark: STREAM_HIGH_WATER_MARK,
      read: () => {
        wanted = true;
        if (!running) void run();
      },
      destroy: (error, callback) => {
        if (!closed) {
          closed = true;
          this.readers -= 1;
          void this.closeIfIdle();
        }
        callback(error);
      },
    });
    const pump = async (): Promise<void> => {
      try {
        for (;;) {
          if (stream.destroyed) return;
          if (position >= end) {
            if (!this.outcome) {
              await this.nextProgress();
              continue;
            }
            if (!this.outcome.ok) throw this.outcome.error;
            wanted = false;
            stream.push(null);
            return;
          }
          if (this.outcome && !this.outcome.ok) throw this.outcome.error;
          // The blob's last byte is held back until the digest is verified: a client must never
          // receive a complete (Content-Length satisfied) body with the wrong content.
          const edge = this.outcome?.ok ? this.received : Math.min(this.received, this.size - 1);
          const upto = Math.min(end, edge);
          if (upto <= position) {
            await this.nextProgress();
            continue;
          }
          const piece = this.fromWindow(position, upto) ?? (await this.fromFile(position, upto));
          position += piece.length;
          wanted = false;
          if (stream.push(piece)) wanted = true;
          if (!wanted) return;
        }
      } catch (error) {
        stream.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const run = async () => {
      running = true;
      try {
        do await pump();
        while (wanted && !stream.destroyed);
      } finally {
        running = false;
      }
    };
    return stream;
  }

  /**
   * A reader behind the window: what the spool file holds from `position`, never past the
   * window's start until the download is over. The writes in flight land in any order, so a
   * read that reached into the window's bytes could find a hole where a later write has already
   * extended the file (zeros, read as content).
   */
  private async fromFile(position: number, end: number): Promise<Buffer> {
    const written = this.outcome ? this.received : (this.window[0]?.offset ?? 0);
    const length = Math.min(end, written, position + STREAM_HIGH_WATER_MARK) - position;
    // fromWindow serves every position from the window's start on, so this is never reached.
    if (length <= 0) throw new Error(`in-flight blob: nothing written at ${position}`);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.file.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) throw new Error('spool file shorter than written');
    return bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
  }

  private nextProgress(): Promise<void> {
    return new Promise((resolve) => this.events.once('progress', resolve));
  }

  /**
   * Called once the cache no longer needs the spool (adopted by the store, or failed): removes
   * the file if it is still there (open readers keep their handle) and closes the handle when the
   * last reader is done.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.window.length = 0;
    this.windowBytes = 0;
    await rm(this.spoolPath, { force: true });
    await this.closeIfIdle();
  }

  private async closeIfIdle(): Promise<void> {
    if (!this.released || this.readers > 0 || this.closed) return;
    this.closed = true;
    await this.file.close().catch(() => undefined);
  }
}
