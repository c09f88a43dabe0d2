/**
 * A small free list of equally sized buffers. Streaming a blob through fresh buffers costs a page
 * fault per 4 KiB and a GC of external memory per few dozen MiB; reusing a handful of buffers
 * costs neither. Retains at most `keep` buffers.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(readonly size: number, private readonly keep: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buffer: Buffer): void {
    if (this.free.length < this.keep && buffer.length === this.size) this.free.push(buffer);
  }
}

/** Receives one chunk; resolves once the chunk's memory may be reused. */
export type ChunkWriter = (chunk: Buffer) => Promise<void>;
