/** Every pool that exists, so an idle process can give their buffers back (idle-memory.ts). */
const livePools = new Set<WeakRef<BufferPool>>();

/**
 * A small free list of equally sized buffers. Streaming a blob through fresh buffers costs a page
 * fault per 4 KiB and a GC of external memory per few dozen MiB; reusing a handful of buffers
 * costs neither. Keeps at least `keep` buffers and, while more are lent out at once, as many as
 * were lent at the busiest moment, up to `keepAtMost`: a buffer dropped while as many are still
 * needed is garbage that only a full collection frees (it lived through a stream, so it was
 * promoted), and it was replaced by a fresh one. None are kept once `release` is called (until
 * the next busy stretch fills it again).
 */
export class BufferPool {
  private free: Buffer[] = [];
  private lent = 0;
  private mostLent = 0;
  private readonly allocate: (size: number) => Buffer;
  private readonly lendAtMost: number;

  constructor(
    readonly size: number,
    private readonly keep: number,
    private readonly keepAtMost = keep,
    options: { allocate?: (size: number) => Buffer; lendAtMost?: number } = {},
  ) {
    this.allocate = options.allocate ?? Buffer.allocUnsafeSlow;
    this.lendAtMost = options.lendAtMost ?? Infinity;
    livePools.add(new WeakRef(this));
  }

  take(): Buffer {
    this.lent += 1;
    this.mostLent = Math.max(this.mostLent, this.lent);
    return this.free.pop() ?? this.allocate(this.size);
  }

  /** A buffer, unless `lendAtMost` are lent already. */
  tryTake(): Buffer | undefined {
    return this.lent < this.lendAtMost ? this.take() : undefined;
  }

  give(buffer: Buffer): void {
    this.lent = Math.max(0, this.lent - 1);
    const limit = Math.min(this.keepAtMost, Math.max(this.keep, this.mostLent));
    if (this.free.length < limit && buffer.length === this.size) this.free.push(buffer);
  }

  /** Lets go of the buffers kept for reuse; returns their bytes. */
  release(): number {
    const bytes = this.free.length * this.size;
    this.free = [];
    // The busiest moment is measured again from what is lent now.
    this.mostLent = this.lent;
    return bytes;
  }
}

/**
 * Empties every pool: an idle server keeps no buffers for a next stream that may come hours later
 * (16 MiB for the filesystem driver's reads). Returns the bytes let go, which the next collection
 * frees.
 */
export function releasePooledBuffers(): number {
  let bytes = 0;
  for (const ref of livePools) {
    const pool = ref.deref();
    if (pool) bytes += pool.release();
    else livePools.delete(ref);
  }
  return bytes;
}

// The global WebAssembly object (the project's type libraries do not declare it); only its Memory.
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } };
const WASM_PAGE = 64 << 10;

/**
 * An allocator of buffers that start on a page boundary, as O_DIRECT needs: Node's own come from
 * malloc, 16-byte aligned. A WebAssembly memory starts on a 64 KiB boundary; each is cut into the
 * buffers of `bytesPerMemory` (every memory reserves gigabytes of address space, so not one per
 * buffer). The allocator holds its current memory weakly: the collector frees a memory once none of
 * its buffers is referenced, so a pool's `release` frees them.
 */
export function pageAlignedBuffers(bytesPerMemory = 4 << 20): (size: number) => Buffer {
  let current: { memory: WeakRef<ArrayBuffer>; size: number; next: number } | undefined;
  return (size) => {
    if (size % 4096 !== 0) throw new RangeError(`page-aligned buffers come in whole pages, not ${size} bytes`);
    let memory = current?.size === size ? current.memory.deref() : undefined;
    if (!memory || (current!.next + 1) * size > memory.byteLength) {
      const pages = Math.ceil(Math.max(size, bytesPerMemory) / WASM_PAGE);
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
      current = { memory: new WeakRef(memory), size, next: 0 };
    }
    return Buffer.from(memory, current!.next++ * size, size);
  };
}

/** Receives one chunk; resolves once the chunk's memory may be reused. */
export type ChunkWriter = (chunk: Buffer) => Promise<void>;
