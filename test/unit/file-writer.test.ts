import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { UploadLengthError } from '../../src/storage/driver.js';
import { DIRECT_ALIGNMENT, DIRECT_WRITE_SIZE, WRITE_SIZE, writeAllv, writeBody, type DirectWrites } from '../../src/storage/file-writer.js';
import { BufferPool, pageAlignedBuffers } from '../../src/lib/buffer-pool.js';
import { chunksOf } from '../../src/lib/streams.js';

async function withFile(run: (file: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'wharf-writer-'));
  try {
    await run(join(directory, 'data'));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Cuts `data` into pieces of the given sizes, cycling, as a network would. */
function pieces(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0, turn = 0; offset < data.length; turn++) {
    const size = sizes[turn % sizes.length]!;
    out.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

describe('writeBody', () => {
  it('writes odd-sized chunks after an existing prefix, across many write buffers, byte for byte', () => withFile(async (file) => {
    const prefix = randomBytes(1000);
    const body = randomBytes(WRITE_SIZE * 9 + 12345);
    await writeFile(file, prefix);
    const handle = await open(file, 'r+');
    try {
      const written = await writeBody(handle, prefix.length, Readable.from(pieces(body, [1, 70_000, 4096, 200_000, 3])));
      assert.equal(written, body.length);
    } finally {
      await handle.close();
    }
    assert.deepEqual(await readFile(file), Buffer.concat([prefix, body]));
  }));

  it('an empty body writes nothing', () => withFile(async (file) => {
    await writeFile(file, 'abc');
    const handle = await open(file, 'r+');
    try {
      assert.equal(await writeBody(handle, 3, Readable.from([])), 0);
    } finally {
      await handle.close();
    }
    assert.equal((await readFile(file)).toString(), 'abc');
  }));

  it('a body that fails keeps the contiguous prefix it wrote', () => withFile(async (file) => {
    await writeFile(file, '');
    const good = randomBytes(WRITE_SIZE * 3);
    async function* failing() {
      yield good;
      throw new Error('client went away');
    }
    const handle = await open(file, 'r+');
    try {
      await assert.rejects(writeBody(handle, 0, Readable.from(failing())), /client went away/);
    } finally {
      await handle.close();
    }
    assert.deepEqual(await readFile(file), good);
  }));

  it('a body refused with UploadLengthError is cut back to where it started', () => withFile(async (file) => {
    await writeFile(file, 'keep');
    async function* refused() {
      yield randomBytes(WRITE_SIZE * 3 + 5);
      throw new UploadLengthError(WRITE_SIZE, WRITE_SIZE * 3 + 5);
    }
    const handle = await open(file, 'r+');
    try {
      await assert.rejects(writeBody(handle, 4, Readable.from(refused())), UploadLengthError);
    } finally {
      await handle.close();
    }
    assert.equal((await readFile(file)).toString(), 'keep');
  }));

  it('a write that fails rejects and cuts the file back to where the body started', () => withFile(async (file) => {
    await writeFile(file, 'keep');
    const handle = await open(file, 'r+');
    // The real handle, except that its third write fails as a full disk would, and the writes
    // after it land late: the cut must wait for them, or they would land behind it.
    let writes = 0;
    let pending = 0;
    const failingThird = new Proxy(handle, {
      get(target, property) {
        if (property === 'writev') {
          return async (...args: Parameters<FileHandle['writev']>) => {
            const n = ++writes;
            if (n === 3) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
            pending += 1;
            try {
              if (n > 3) await sleep(30);
              return await target.writev(...args);
            } finally {
              pending -= 1;
            }
          };
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      await assert.rejects(writeBody(failingThird, 4, Readable.from([randomBytes(WRITE_SIZE * 6)])), { code: 'ENOSPC' });
      assert.equal(pending, 0, 'writeBody rejected while writes were still in flight: they land after the cut');
      await sleep(100);
    } finally {
      await handle.close();
    }
    assert.ok(writes >= 3);
    assert.equal((await readFile(file)).toString(), 'keep');
  }));

  it('writes pieces of WRITE_SIZE made of the chunks themselves, never copies of them', () => withFile(async (file) => {
    const body = randomBytes(WRITE_SIZE * 3 + 100);
    const handle = await open(file, 'w+');
    const seen: Buffer[][] = [];
    const recording = new Proxy(handle, {
      get(target, property) {
        if (property === 'writev') return (buffers: Buffer[], position?: number) => (seen.push(buffers), target.writev(buffers, position));
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const sent = pieces(body, [40_000, 70_000]);
    try {
      assert.equal(await writeBody(recording, 0, Readable.from(sent)), body.length);
    } finally {
      await handle.close();
    }
    assert.deepEqual(seen.map((b) => b.reduce((n, x) => n + x.length, 0)), [WRITE_SIZE, WRITE_SIZE, WRITE_SIZE, 100]);
    // Every piece's memory is a chunk's (a split chunk shares it too).
    for (const buffer of seen.flat()) assert.ok(sent.some((c) => c.buffer === buffer.buffer && buffer.byteOffset >= c.byteOffset && buffer.byteOffset + buffer.length <= c.byteOffset + c.length));
    assert.ok((await readFile(file)).equals(body));
  }));
});

/** Wraps `handle` so every writev is recorded as [position, length] (after `fail` had its say). */
function recordWrites(handle: FileHandle, writes: Array<[number, number]>, fail?: (n: number) => Error | undefined): FileHandle {
  return new Proxy(handle, {
    get(target, property) {
      if (property === 'writev') {
        return async (buffers: Buffer[], position?: number) => {
          const error = fail?.(writes.length + 1);
          writes.push([position ?? -1, buffers.reduce((n, b) => n + b.length, 0)]);
          if (error) throw error;
          return target.writev(buffers, position);
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('writeBody past the page cache (direct)', () => {
  const alignedPool = (lendAtMost = 64) => new BufferPool(DIRECT_WRITE_SIZE, 2, 8, { allocate: pageAlignedBuffers(), lendAtMost });

  /** Writes `body` after `prefix` with a real O_DIRECT handle; returns what each handle wrote. */
  async function writeDirect(file: string, prefix: Buffer, body: Buffer, buffers: BufferPool, sizes = [1, 70_000, 4096, 200_000, 3]) {
    await writeFile(file, prefix);
    const handle = await open(file, 'r+');
    const directHandle = await open(file, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    const cached: Array<[number, number]> = [];
    const direct: Array<[number, number]> = [];
    try {
      const options = { direct: { handle: recordWrites(directHandle, direct), buffers } satisfies DirectWrites };
      assert.equal(await writeBody(recordWrites(handle, cached), prefix.length, Readable.from(pieces(body, sizes)), options), body.length);
    } finally {
      await directHandle.close();
      await handle.close();
    }
    return { cached, direct };
  }

  it('after an unaligned prefix: a first piece up to an aligned position, whole aligned blocks direct, the tail cached; byte for byte', () => withFile(async (file) => {
    const prefix = randomBytes(1000);
    const body = randomBytes(DIRECT_WRITE_SIZE * 5 + 12345);
    const { cached, direct } = await writeDirect(file, prefix, body, alignedPool());
    assert.deepEqual((await readFile(file)).subarray(0, prefix.length), prefix);
    assert.ok((await readFile(file)).subarray(prefix.length).equals(body));
    assert.deepEqual(cached[0], [1000, WRITE_SIZE - 1000], 'the first piece ends where a block starts');
    for (const [position, length] of direct) {
      assert.equal(position % DIRECT_ALIGNMENT, 0, `direct write at ${position}`);
      assert.equal(length % DIRECT_ALIGNMENT, 0, `direct write of ${length}`);
    }
    const directBytes = direct.reduce((n, [, length]) => n + length, 0);
    assert.ok(directBytes >= body.length - WRITE_SIZE - DIRECT_ALIGNMENT, `all but the first piece and the tail direct (${directBytes} of ${body.length})`);
    assert.equal(cached.length, 2, `the first piece and the tail go through the page cache: ${JSON.stringify(cached)}`);
    assert.equal(cached[1]![0] + cached[1]![1], prefix.length + body.length);
    assert.ok(cached[1]![1] < DIRECT_ALIGNMENT);
  }));

  it('a body shorter than the first piece, and one that ends on a block, write correctly', () => withFile(async (file) => {
    const small = randomBytes(5000);
    const { direct } = await writeDirect(file, Buffer.alloc(0), small, alignedPool());
    assert.deepEqual(direct, []);
    assert.ok((await readFile(file)).equals(small));
    const exact = randomBytes(WRITE_SIZE + DIRECT_WRITE_SIZE * 2);
    const second = await writeDirect(file, Buffer.alloc(0), exact, alignedPool(), [65_536]);
    assert.deepEqual(second.cached, [[0, WRITE_SIZE]], 'nothing left for a cached tail');
    assert.deepEqual(second.direct, [[WRITE_SIZE, DIRECT_WRITE_SIZE], [WRITE_SIZE + DIRECT_WRITE_SIZE, DIRECT_WRITE_SIZE]]);
    assert.ok((await readFile(file)).equals(exact));
  }));

  it('past the pool\'s lendAtMost, pieces go through the page cache; the buffers come back to the pool', () => withFile(async (file) => {
    const buffers = alignedPool(1);
    const body = randomBytes(DIRECT_WRITE_SIZE * 4);
    const { cached, direct } = await writeDirect(file, Buffer.alloc(0), body, buffers);
    assert.ok((await readFile(file)).equals(body));
    assert.ok(direct.length >= 1, 'one buffer lent: some pieces direct');
    assert.ok(cached.length > 2, 'the others through the page cache');
    assert.ok(buffers.tryTake(), 'the buffer was given back');
    assert.equal(buffers.tryTake(), undefined, 'and only one may be lent');
  }));

  it('a direct write that fails rejects, waits for the others, cuts the file back, and gives the buffers back', () => withFile(async (file) => {
    await writeFile(file, 'keep');
    const handle = await open(file, 'r+');
    const directHandle = await open(file, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    const buffers = alignedPool(5);
    try {
      const direct = recordWrites(directHandle, [], (n) => (n === 2 ? Object.assign(new Error('no space left'), { code: 'ENOSPC' }) : undefined));
      await assert.rejects(writeBody(handle, 4, Readable.from([randomBytes(DIRECT_WRITE_SIZE * 8)]), { direct: { handle: direct, buffers } }), { code: 'ENOSPC' });
    } finally {
      await directHandle.close();
      await handle.close();
    }
    assert.equal((await readFile(file)).toString(), 'keep');
    assert.equal([1, 2, 3, 4, 5].map(() => buffers.tryTake()).filter(Boolean).length, 5, 'all five buffers back');
  }));
});

describe('pageAlignedBuffers', () => {
  it('cuts whole-page buffers that do not overlap and that O_DIRECT takes', () => withFile(async (file) => {
    const allocate = pageAlignedBuffers(1 << 20);
    const taken = Array.from({ length: 40 }, () => allocate(DIRECT_WRITE_SIZE));
    taken.forEach((buffer, i) => buffer.fill(i));
    taken.forEach((buffer, i) => assert.ok(buffer.every((byte) => byte === i), 'no buffer shares another\'s memory'));
    assert.throws(() => allocate(1000), /whole pages/);
    const handle = await open(file, fsConstants.O_CREAT | fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    try {
      // EINVAL here if the memory were not aligned.
      for (const [i, buffer] of taken.slice(0, 8).entries()) await handle.write(buffer, 0, buffer.length, i * buffer.length);
    } finally {
      await handle.close();
    }
    assert.ok((await readFile(file)).equals(Buffer.concat(taken.slice(0, 8))));
  }));
});

describe('writeAllv', () => {
  it('continues after short writes, mid-buffer, in order', () => withFile(async (file) => {
    const parts = [randomBytes(10), randomBytes(5000), randomBytes(3), randomBytes(70_000)];
    const handle = await open(file, 'w+');
    let calls = 0;
    // A disk that takes at most 4099 bytes per call.
    const stingy = { writev: async (buffers: Buffer[], position?: number) => (calls++, handle.write(Buffer.concat(buffers).subarray(0, 4099), 0, Math.min(4099, buffers.reduce((n, b) => n + b.length, 0)), position)) } as unknown as FileHandle;
    try {
      await writeAllv(stingy, parts, 7);
    } finally {
      await handle.close();
    }
    assert.ok(calls >= 18);
    assert.ok((await readFile(file)).subarray(7).equals(Buffer.concat(parts)));
  }));
});

describe('chunksOf', () => {
  it('yields each chunk as it came, pauses the stream past its queue, ends with its error', async () => {
    const sent = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000 + i, i));
    const stream = new Readable({ read() {} });
    for (const chunk of sent) stream.push(chunk);
    const got: Buffer[] = [];
    const iterator = chunksOf(stream, 4);
    got.push((await iterator.next()).value as Buffer);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(stream.readableLength >= 15 * 1000, `at most four taken ahead of the consumer; the rest waits in the stream (${stream.readableLength})`);
    stream.push(null);
    for await (const chunk of iterator) got.push(chunk);
    assert.equal(got.length, sent.length);
    got.forEach((chunk, i) => assert.equal(chunk, sent[i], 'the same Buffer object, not a copy'));

    const failing = new Readable({ read() {} });
    failing.push(Buffer.from('a'));
    setImmediate(() => failing.destroy(new Error('client went away')));
    await assert.rejects(async () => {
      for await (const _ of chunksOf(failing)) void _;
    }, /client went away/);
    const cut = new Readable({ read() {} });
    setImmediate(() => cut.destroy());
    await assert.rejects(async () => {
      for await (const _ of chunksOf(cut)) void _;
    }, { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});
