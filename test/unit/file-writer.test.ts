import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { UploadLengthError } from '../../src/storage/driver.js';
import { WRITE_SIZE, writeAllv, writeBody } from '../../src/storage/file-writer.js';
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
