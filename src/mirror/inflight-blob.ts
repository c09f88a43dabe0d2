import { EventEmitter } from 'node:events';
import { rm, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { newHasher, type Digest } from '../oci/digest.js';
import type { ByteRange } from '../storage/driver.js';
import { openFile, privateModes, type FileModes } from '../lib/file-modes.js';
import { STREAM_HIGH_WATER_MARK } from '../lib/streams.js';

export type InflightOutcome = { ok: true } | { ok: false; error: Error };

/**
 * One upstream download, spooled to a local file while any number of readers follow it: each
 * reader reads the spool at its own pace (a slow client never slows the download or the others)
 * and waits at the write edge for more bytes. A reader that joins late starts from its own
 * offset, so Range requests work on in-flight blobs. The digest and size are checked when the
 * last byte arrives; only then do readers see the end of the stream — on a mismatch they fail
 * instead, and the spool is never handed to the cache.
 */
export class InflightBlob {
  private written = 0;
  private outcome: InflightOutcome | undefined;
  private readers = 0;
  private released = false;
  private closed = false;
  private readonly events = new EventEmitter();
  /** Resolves once the download is verified (ok) or failed; never rejects. */
  readonly settled: Promise<InflightOutcome>;

  private constructor(
    readonly digest: Digest,
    readonly size: number,
    readonly spoolPath: string,
    private readonly file: FileHandle,
    source: AsyncIterable<Buffer>,
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
    source: AsyncIterable<Buffer>;
    onBytes?: (n: number) => void;
  }): Promise<InflightBlob> {
    const file = await openFile(options.spoolPath, 'w+', options.modes ?? privateModes);
    return new InflightBlob(options.digest, options.size, options.spoolPath, file, options.source, options.onBytes ?? (() => undefined));
  }

  get bytesWritten(): number {
    return this.written;
  }

  /** Why the download failed, once it has. */
  get failure(): Error | undefined {
    return this.outcome && !this.outcome.ok ? this.outcome.error : undefined;
  }

  private async download(source: AsyncIterable<Buffer>): Promise<InflightOutcome> {
    const hash = newHasher(this.digest.algorithm);
    try {
      for await (const chunk of source) {
        if (this.written + chunk.length > this.size) throw new Error(`upstream sent more than the expected ${this.size} bytes`);
        hash.update(chunk);
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await this.file.write(chunk, offset, chunk.length - offset, this.written + offset);
          offset += bytesWritten;
        }
        this.written += chunk.length;
        this.onBytes(chunk.length);
        this.events.emit('progress');
      }
      if (this.written !== this.size) throw new Error(`upstream sent ${this.written} of ${this.size} bytes`);
      const actual = `${this.digest.algorithm}:${hash.digest('hex')}`;
      if (actual !== this.digest.value) throw new Error(`upstream sent content with digest ${actual}, not ${this.digest.value}`);
      this.outcome = { ok: true };
    } catch (error) {
      this.outcome = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
    }
    this.events.emit('progress');
    return this.outcome;
  }

  /** A stream of the blob (or `range` of it) that follows the download as it arrives. */
  reader(range?: ByteRange): Readable {
    if (this.released) throw new Error('in-flight blob already released');
    this.readers += 1;
    let position = range?.start ?? 0;
    const end = range?.end ?? this.size;
    let waiting = false;
    let closed = false;
    const stream = new Readable({
      highWaterMark: STREAM_HIGH_WATER_MARK,
      read: () => {
        if (!waiting) void run();
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
            stream.push(null);
            return;
          }
          if (this.outcome && !this.outcome.ok) throw this.outcome.error;
          // The blob's last byte is held back until the digest is verified: a client must never
          // receive a complete (Content-Length satisfied) body with the wrong content.
          const edge = this.outcome?.ok ? this.written : Math.min(this.written, this.size - 1);
          const available = Math.min(end, edge) - position;
          if (available <= 0) {
            await this.nextProgress();
            continue;
          }
          const buffer = Buffer.allocUnsafe(Math.min(available, STREAM_HIGH_WATER_MARK));
          const { bytesRead } = await this.file.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) throw new Error('spool file shorter than written');
          position += bytesRead;
          if (!stream.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead))) return;
        }
      } catch (error) {
        stream.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    };
    // Only one pump at a time per reader: `read()` may be called again while one awaits.
    const run = async () => {
      waiting = true;
      try {
        await pump();
      } finally {
        waiting = false;
      }
    };
    return stream;
  }

  private nextProgress(): Promise<void> {
    return new Promise((resolve) => this.events.once('progress', resolve));
  }

  /**
   * Called once the cache no longer needs the spool (stored, or failed): removes the file now
   * (open readers keep their handle) and closes the handle when the last reader is done.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await rm(this.spoolPath, { force: true });
    await this.closeIfIdle();
  }

  private async closeIfIdle(): Promise<void> {
    if (!this.released || this.readers > 0 || this.closed) return;
    this.closed = true;
    await this.file.close().catch(() => undefined);
  }
}
