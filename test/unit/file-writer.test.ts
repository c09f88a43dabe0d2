import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { BufferPool } from '../../src/lib/buffer-pool.js';
import { UploadLengthError } from '../../src/storage/driver.js';
import { WRITE_SIZE, writeBody } from '../../src/storage/file-writer.js';

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
    const pool = new BufferPool(WRITE_SIZE, 2);
    try {
      const written = await writeBody(handle, prefix.length, Readable.from(pieces(body, [1, 70_000, 4096, 200_000, 3])), pool);
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
      assert.equal(await writeBody(handle, 3, Readable.from([]), new BufferPool(WRITE_SIZE, 1)), 0);
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
      await assert.rejects(writeBody(handle, 0, Readable.from(failing()), new BufferPool(WRITE_SIZE, 4)), /client went away/);
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
      await assert.rejects(writeBody(handle, 4, Readable.from(refused()), new BufferPool(WRITE_SIZE, 4)), UploadLengthError);
    } finally {
      await handle.close();
    }
    assert.equal((await readFile(file)).toString(), 'keep');
  }));

  it('a write that fails rejects and cuts the file back to where the body started', () => withFile(async (file) => {
    await writeFile(file, 'keep');
    const handle = await open(file, 'r+');
    // The real handle, except that its third write fails as a full disk would.
    let writes = 0;
    const failingThird = new Proxy(handle, {
      get(target, property) {
        if (property === 'write') {
          return (...args: Parameters<FileHandle['write']>) =>
            ++writes === 3 ? Promise.reject(Object.assign(new Error('no space left'), { code: 'ENOSPC' })) : target.write(...args);
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      await assert.rejects(writeBody(failingThird, 4, Readable.from([randomBytes(WRITE_SIZE * 6)]), new BufferPool(WRITE_SIZE, 8)), { code: 'ENOSPC' });
    } finally {
      await handle.close();
    }
    assert.ok(writes >= 3);
    assert.equal((await readFile(file)).toString(), 'keep');
  }));
});
