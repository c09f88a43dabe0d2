/**
 * The storage contract: one behavioural suite every driver runs (after CNCF Distribution's
 * testsuites.go). Each case gets a fresh driver over an empty store, deletes what it wrote, and then
 * fails if the driver left anything behind (`list('')` must be empty).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { StorageNotFoundError } from '../../src/errors.js';
import { UploadLengthError, UploadOffsetError, type StorageDriver } from '../../src/storage/driver.js';
import {
  MiB, chunked, failingStream, prngBytes, prngDigest, prngStream, readAll, sha256, streamDigest,
} from './storage-data.js';

export interface DriverUnderTest {
  driver: StorageDriver;
  /** Removes the store (or the test's root in it) and closes the driver. */
  cleanup(): Promise<void>;
  /** A second driver instance over the same store, as another process would have. */
  reopen?(): Promise<StorageDriver>;
}

export interface ContractOptions {
  /** Size of the large-object cases; default 110 MiB. */
  largeObjectBytes?: number;
  /** Keys written by the listing case; default 1,050 (more than one S3 page). */
  listKeys?: number;
  /** Rounds of the two-instance append race; default 40. */
  raceTrials?: number;
}

export function storageContract(name: string, makeDriver: () => Promise<DriverUnderTest>, options: ContractOptions = {}): void {
  const largeBytes = options.largeObjectBytes ?? 110 * MiB;
  const listKeys = options.listKeys ?? 1_050;
  const raceTrials = options.raceTrials ?? 40;

  interface Harness {
    driver: StorageDriver;
    made: DriverUnderTest;
    /** Registers a key for deletion at teardown and returns it. */
    key(name: string): string;
    /** Creates an upload that teardown aborts if the test did not finish it. */
    upload(): Promise<string>;
  }

  async function withDriver(run: (harness: Harness) => Promise<void>): Promise<void> {
    const made = await makeDriver();
    const keys = new Set<string>();
    const uploads = new Set<string>();
    const harness: Harness = {
      driver: made.driver,
      made,
      key(name) {
        keys.add(name);
        return name;
      },
      async upload() {
        const id = randomUUID();
        uploads.add(id);
        await made.driver.createUpload(id);
        return id;
      },
    };
    let passed = false;
    try {
      await run(harness);
      passed = true;
    } finally {
      try {
        for (const key of keys) await made.driver.delete(key);
        for (const id of uploads) await made.driver.abortUpload(id);
        if (passed) {
          const left: string[] = [];
          for await (const key of made.driver.list('')) left.push(key);
          assert.deepEqual(left, [], 'the driver left objects behind');
        }
      } finally {
        await made.cleanup();
      }
    }
  }

  const rejectsNotFound = (promise: Promise<unknown>) => assert.rejects(promise, StorageNotFoundError);

  describe(`storage contract: ${name}`, () => {
    describe('objects', () => {
      it('stat of a missing key is null', () => withDriver(async ({ driver }) => {
        assert.equal(await driver.stat('contract/missing'), null);
      }));

      it('writes a Buffer and reads it back', () => withDriver(async ({ driver, key }) => {
        const bytes = prngBytes(1, 0, 100_000);
        await driver.write(key('contract/buffer'), bytes);
        assert.equal((await driver.stat('contract/buffer'))?.size, bytes.length);
        assert.deepEqual(await readAll(await driver.read('contract/buffer')), bytes);
      }));

      it('writes a stream and reads it back', () => withDriver(async ({ driver, key }) => {
        const bytes = prngBytes(2, 0, 3 * MiB + 17);
        await driver.write(key('contract/stream'), chunked(bytes));
        assert.equal((await driver.stat('contract/stream'))?.size, bytes.length);
        assert.equal(sha256(await readAll(await driver.read('contract/stream'))), sha256(bytes));
      }));

      it('writes empty objects', () => withDriver(async ({ driver, key }) => {
        await driver.write(key('contract/empty-buffer'), Buffer.alloc(0));
        await driver.write(key('contract/empty-stream'), Readable.from([]));
        assert.equal((await driver.stat('contract/empty-buffer'))?.size, 0);
        assert.equal((await driver.stat('contract/empty-stream'))?.size, 0);
        assert.equal((await readAll(await driver.read('contract/empty-stream'))).length, 0);
      }));

      it('reads ranges: start, middle, end, empty, whole', () => withDriver(async ({ driver, key }) => {
        const bytes = prngBytes(3, 0, 10_000);
        await driver.write(key('contract/ranges'), bytes);
        for (const [start, end] of [[0, 10], [4_000, 6_123], [9_990, 10_000], [5_000, 5_000], [0, 10_000], [9_999, 10_000]] as const) {
          const got = await readAll(await driver.read('contract/ranges', { start, end }));
          assert.deepEqual(got, bytes.subarray(start, end), `range ${start}-${end}`);
        }
      }));

      it('read of a missing key rejects with StorageNotFoundError', () => withDriver(async ({ driver }) => {
        await rejectsNotFound(driver.read('contract/missing'));
        await rejectsNotFound(driver.read('contract/missing', { start: 0, end: 10 }));
        await rejectsNotFound(driver.read('contract/missing', { start: 0, end: 0 }));
      }));

      it('write is atomic: a failing body leaves no object and keeps the old one', () => withDriver(async ({ driver, key }) => {
        // 7 MiB: past the 5 MiB S3 part minimum, so a multipart path is exercised where there is one.
        const partial = prngBytes(4, 0, 7 * MiB);
        await assert.rejects(driver.write(key('contract/atomic-new'), failingStream(partial)));
        assert.equal(await driver.stat('contract/atomic-new'), null);
        const old = prngBytes(5, 0, 1000);
        await driver.write(key('contract/atomic-old'), old);
        await assert.rejects(driver.write('contract/atomic-old', failingStream(partial)));
        assert.deepEqual(await readAll(await driver.read('contract/atomic-old')), old);
      }));

      it('overwrites an object', () => withDriver(async ({ driver, key }) => {
        await driver.write(key('contract/overwrite'), prngBytes(6, 0, 5000));
        const second = prngBytes(7, 0, 1234);
        await driver.write('contract/overwrite', chunked(second, 100));
        assert.equal((await driver.stat('contract/overwrite'))?.size, second.length);
        assert.deepEqual(await readAll(await driver.read('contract/overwrite')), second);
      }));

      it('deletes, and deleting a missing key is fine', () => withDriver(async ({ driver, key }) => {
        await driver.write(key('contract/delete'), Buffer.from('bye'));
        await driver.delete('contract/delete');
        assert.equal(await driver.stat('contract/delete'), null);
        await rejectsNotFound(driver.read('contract/delete'));
        await driver.delete('contract/delete');
        await driver.delete('contract/never/written');
      }));

      it('deleteMany (when the driver has it) removes every key, over several requests; missing keys are fine', () => withDriver(async ({ driver, key }) => {
        if (!driver.deleteMany) return;
        // More keys than one DeleteObjects request of the S3 driver takes.
        const names = Array.from({ length: 120 }, (_, i) => `contract/many/${String(i).padStart(3, '0')}`);
        await inParallel(names, 32, (name) => driver.write(key(name), Buffer.from(name)));
        await driver.deleteMany([...names.slice(0, 110), 'contract/many/never']);
        const left: string[] = [];
        for await (const listed of driver.list('contract/many/')) left.push(listed);
        assert.deepEqual(left.sort(), names.slice(110));
        await driver.deleteMany(names.slice(110));
      }));

      it(`lists ${listKeys} keys by prefix, and filters by prefix`, { timeout: 120_000 }, () => withDriver(async ({ driver, key }) => {
        const names = Array.from({ length: listKeys }, (_, i) => `list/k/${String(i).padStart(5, '0')}`);
        await inParallel(names, 32, (name) => driver.write(key(name), Buffer.from(name)));
        await driver.write(key('list/other'), Buffer.from('x'));
        await driver.write(key('listless'), Buffer.from('x'));
        await driver.write(key('elsewhere/list/k/00001'), Buffer.from('x'));

        assert.deepEqual((await collect(driver.list('list/k/'))).sort(), names);
        assert.deepEqual((await collect(driver.list('list/'))).sort(), [...names, 'list/other'].sort());
        assert.deepEqual((await collect(driver.list('list/k/0100'))).sort(), names.filter((n) => n.startsWith('list/k/0100')));
        assert.deepEqual((await collect(driver.list('lis'))).sort(), [...names, 'list/other', 'listless'].sort());
        assert.deepEqual(await collect(driver.list('nothing/')), []);
        assert.equal((await collect(driver.list(''))).length, listKeys + 3);
      }));

      it('concurrent writers of one key leave one complete value', { timeout: 120_000 }, () => withDriver(async ({ driver, key }) => {
        const values = Array.from({ length: 6 }, (_, i) => prngBytes(100 + i, 0, 6 * MiB + i));
        await Promise.all(values.map((value) => driver.write(key('contract/contended'), chunked(value, 256 * 1024))));
        const got = await readAll(await driver.read('contract/contended'));
        assert.ok(values.some((value) => value.equals(got)), `the object is none of the values written (size ${got.length})`);
        assert.equal((await driver.stat('contract/contended'))?.size, got.length);
      }));

      it('redirectUrl serves the object', async (context) => {
        await withDriver(async ({ driver, key }) => {
          if (!driver.redirectUrl) {
            context.skip(`${name} has no redirectUrl`);
            return;
          }
          const bytes = prngBytes(8, 0, 70_000);
          await driver.write(key('contract/redirect'), bytes);
          const url = await driver.redirectUrl('contract/redirect', 60);
          assert.ok(url, 'redirectUrl returned no URL');
          const response = await fetch(url);
          assert.equal(response.status, 200);
          assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
        });
      });
    });

    describe('uploads', () => {
      // Chunk sizes that cross S3's 5 MiB part minimum from both sides.
      const chunkSizes = [1024, 3 * MiB, 7 * MiB + 5, 2 * MiB, 1];

      it('appends in chunks at offsets, reads back, commits and removes the upload', { timeout: 120_000 }, () => withDriver(async ({ driver, key, upload }) => {
        const id = await upload();
        assert.equal(await driver.uploadSize(id), 0);
        const total = chunkSizes.reduce((sum, size) => sum + size, 0);
        const bytes = prngBytes(10, 0, total);
        let offset = 0;
        for (const size of chunkSizes) {
          const next = await driver.appendUpload(id, offset, chunked(bytes.subarray(offset, offset + size)));
          assert.equal(next, offset + size);
          offset = next;
          assert.equal(await driver.uploadSize(id), offset);
        }
        assert.equal(sha256(await readAll(await driver.readUpload(id))), sha256(bytes));
        await driver.commitUpload(id, key('contract/committed'));
        assert.equal((await driver.stat('contract/committed'))?.size, total);
        assert.equal(sha256(await readAll(await driver.read('contract/committed'))), sha256(bytes));
        const range = await readAll(await driver.read('contract/committed', { start: 5 * MiB - 3, end: 5 * MiB + 3 }));
        assert.deepEqual(range, bytes.subarray(5 * MiB - 3, 5 * MiB + 3));
        await rejectsNotFound(driver.uploadSize(id));
        assert.deepEqual(await collect(driver.list('uploads/')), []);
      }));

      it('an append at the wrong offset fails with UploadOffsetError and changes nothing', () => withDriver(async ({ driver, upload }) => {
        const id = await upload();
        await driver.appendUpload(id, 0, chunked(Buffer.from('0123456789')));
        for (const wrong of [0, 5, 11, 100]) {
          await assert.rejects(driver.appendUpload(id, wrong, chunked(Buffer.from('abc'))), (error: unknown) => {
            assert.ok(error instanceof UploadOffsetError, `expected UploadOffsetError, got ${String(error)}`);
            assert.equal(error.actual, 10);
            assert.equal(error.expected, wrong);
            return true;
          });
        }
        assert.equal(await driver.uploadSize(id), 10);
        assert.equal((await readAll(await driver.readUpload(id))).toString(), '0123456789');
      }));

      it('missing uploads: size, append, read and commit reject with StorageNotFoundError; abort is fine', () => withDriver(async ({ driver }) => {
        const id = randomUUID();
        await rejectsNotFound(driver.uploadSize(id));
        await rejectsNotFound(driver.appendUpload(id, 0, chunked(Buffer.from('x'))));
        await rejectsNotFound(driver.readUpload(id));
        await rejectsNotFound(driver.commitUpload(id, 'contract/never'));
        await driver.abortUpload(id);
        assert.equal(await driver.stat('contract/never'), null);
      }));

      it('commits an empty upload and a small one, over an existing object', () => withDriver(async ({ driver, key, upload }) => {
        const empty = await upload();
        await driver.commitUpload(empty, key('contract/empty-upload'));
        assert.equal((await driver.stat('contract/empty-upload'))?.size, 0);

        await driver.write(key('contract/small-upload'), Buffer.from('old value, longer than the new one'));
        const small = await upload();
        await driver.appendUpload(small, 0, chunked(Buffer.from('hello ')));
        await driver.appendUpload(small, 6, chunked(Buffer.from('world')));
        await driver.commitUpload(small, 'contract/small-upload');
        assert.equal((await readAll(await driver.read('contract/small-upload'))).toString(), 'hello world');
        await rejectsNotFound(driver.uploadSize(small));
      }));

      it('an empty append changes nothing', () => withDriver(async ({ driver, upload }) => {
        const id = await upload();
        await driver.appendUpload(id, 0, chunked(Buffer.from('abc')));
        assert.equal(await driver.appendUpload(id, 3, Readable.from([])), 3);
        assert.equal(await driver.uploadSize(id), 3);
      }));

      it('a failed append keeps a prefix that uploadSize reports and the next append continues', { timeout: 120_000 }, () => withDriver(async ({ driver, key, upload }) => {
        const id = await upload();
        const bytes = prngBytes(11, 0, 14 * MiB);
        await driver.appendUpload(id, 0, chunked(bytes.subarray(0, 2 * MiB)));
        await assert.rejects(driver.appendUpload(id, 2 * MiB, failingStream(bytes.subarray(2 * MiB, 9 * MiB))));
        const kept = await driver.uploadSize(id);
        assert.ok(kept >= 2 * MiB && kept <= 9 * MiB, `size after a failed append: ${kept}`);
        assert.equal(sha256(await readAll(await driver.readUpload(id))), sha256(bytes.subarray(0, kept)));
        await driver.appendUpload(id, kept, chunked(bytes.subarray(kept)));
        await driver.commitUpload(id, key('contract/after-failure'));
        assert.equal(sha256(await readAll(await driver.read('contract/after-failure'))), sha256(bytes));
      }));

      // A chunk the registry refuses for its length fails its body with UploadLengthError, possibly
      // after whole S3 parts went up: none of it may stay, or the client's retry would land after it.
      it('an append whose body is refused with UploadLengthError keeps nothing of it', { timeout: 120_000 }, () => withDriver(async ({ driver, key, upload }) => {
        const id = await upload();
        const bytes = prngBytes(15, 0, 20 * MiB);
        await driver.appendUpload(id, 0, chunked(bytes.subarray(0, 1000)));
        const refused = failingStream(bytes.subarray(1000, 18 * MiB), 256 * 1024, new UploadLengthError(17 * MiB, 18 * MiB));
        await assert.rejects(driver.appendUpload(id, 1000, refused), UploadLengthError);
        assert.equal(await driver.uploadSize(id), 1000);
        assert.deepEqual((await collect(driver.list(`uploads/${id}/`))).filter((k) => /\/part-/.test(k)), [], 'no part of the refused body');
        assert.equal(await driver.appendUpload(id, 1000, chunked(bytes.subarray(1000))), bytes.length);
        await driver.commitUpload(id, key('contract/after-refusal'));
        assert.equal(sha256(await readAll(await driver.read('contract/after-refusal'))), sha256(bytes));
      }));

      it('aborts an upload and its bytes', () => withDriver(async ({ driver, upload }) => {
        const id = await upload();
        await driver.appendUpload(id, 0, chunked(prngBytes(12, 0, 6 * MiB + 1)));
        await driver.abortUpload(id);
        await rejectsNotFound(driver.uploadSize(id));
        assert.deepEqual(await collect(driver.list('uploads/')), []);
        await driver.abortUpload(id);
      }));

      it('another driver instance over the same store resumes an upload', async (context) => {
        await withDriver(async ({ driver, made, key, upload }) => {
          if (!made.reopen) {
            context.skip(`${name} has no store shared between instances`);
            return;
          }
          const other = await made.reopen();
          try {
            const id = await upload();
            const bytes = prngBytes(13, 0, 13 * MiB + 7);
            const cuts = [0, 3 * MiB, 9 * MiB + 1, 11 * MiB, bytes.length];
            for (let i = 0; i + 1 < cuts.length; i++) {
              const [from, to] = [cuts[i] ?? 0, cuts[i + 1] ?? 0];
              const writer = i % 2 === 0 ? driver : other;
              const reader = i % 2 === 0 ? other : driver;
              assert.equal(await reader.uploadSize(id), from);
              assert.equal(await writer.appendUpload(id, from, chunked(bytes.subarray(from, to))), to);
              assert.equal(sha256(await readAll(await reader.readUpload(id))), sha256(bytes.subarray(0, to)));
            }
            await other.commitUpload(id, key('contract/resumed'));
            assert.equal(sha256(await readAll(await driver.read('contract/resumed'))), sha256(bytes));
          } finally {
            await other.close();
          }
        });
      });

      // Two processes (here two instances) appending to one upload at the same offset at once, as
      // a client sending one session's PATCHes to two workers would. Whatever the interleaving, an
      // append that succeeds must leave the upload holding exactly its bytes, or a size other than
      // the one it reported: the registry then re-hashes at commit instead of trusting its digest.
      it('two instances appending at one offset at once never leave a mixture of the size one reported', { timeout: 300_000 }, async (context) => {
        await withDriver(async ({ driver, made, upload }) => {
          if (!made.reopen) {
            context.skip(`${name} has no store shared between instances`);
            return;
          }
          const other = await made.reopen();
          // Yields to the event loop between network-sized pieces, so the two appends interleave.
          const trickle = (bytes: Buffer) =>
            Readable.from((async function* () {
              for (let offset = 0; offset < bytes.length; offset += 16 * 1024) {
                await new Promise((resolve) => setImmediate(resolve));
                yield bytes.subarray(offset, offset + 16 * 1024);
              }
            })());
          try {
            for (let trial = 0; trial < raceTrials; trial++) {
              const id = await upload();
              const prefix = prngBytes(1, 0, 1000);
              await driver.appendUpload(id, 0, Readable.from([prefix]));
              // Mostly small bodies; every fourth crosses an S3 part.
              const length = trial % 4 === 3 ? 5 * MiB + 70_000 + trial : 64 * 1024 * (1 + (trial % 5)) + trial * 97;
              const bodies = [prngBytes(100 + trial, 0, length), prngBytes(200 + trial, 0, length + (trial % 3) * 40_000)];
              const outcomes = await Promise.allSettled([
                driver.appendUpload(id, prefix.length, trickle(bodies[0]!)),
                other.appendUpload(id, prefix.length, trickle(bodies[1]!)),
              ]);
              const stored = await readAll(await driver.readUpload(id));
              let owners = 0;
              outcomes.forEach((outcome, index) => {
                if (outcome.status === 'rejected') {
                  assert.ok(outcome.reason instanceof UploadOffsetError, String(outcome.reason));
                } else if (stored.length === outcome.value) {
                  assert.ok(stored.equals(Buffer.concat([prefix, bodies[index]!])), `trial ${trial}: a mixture under a size one append reported`);
                  owners++;
                }
              });
              // The filesystem refuses the later append; S3 may let both finish (tails of different
              // lengths are different keys) and keep one whole tail. Either way one owner at most.
              assert.ok(owners <= 1, `trial ${trial}: both appends claim the upload`);
              await driver.abortUpload(id);
            }
          } finally {
            await other.close();
          }
        });
      });

      it('concurrent appends to different uploads', { timeout: 120_000 }, () => withDriver(async ({ driver, key, upload }) => {
        const sizes = [2 * MiB, 6 * MiB + 1, MiB];
        const total = sizes.reduce((sum, size) => sum + size, 0);
        await Promise.all([0, 1, 2, 3].map(async (n) => {
          const id = await upload();
          const bytes = prngBytes(20 + n, 0, total);
          let offset = 0;
          for (const size of sizes) offset = await driver.appendUpload(id, offset, chunked(bytes.subarray(offset, offset + size)));
          await driver.commitUpload(id, key(`contract/parallel-${n}`));
          assert.equal(sha256(await readAll(await driver.read(`contract/parallel-${n}`))), sha256(bytes));
        }));
      }));

      it('staleUploads lists uploads by last change', () => withDriver(async ({ driver, upload }) => {
        const idle = await upload();
        const busy = await upload();
        await driver.appendUpload(busy, 0, chunked(Buffer.from('data')));
        const future = await collect(driver.staleUploads(new Date(Date.now() + 60_000)));
        assert.ok(future.includes(idle) && future.includes(busy), `stale before a future date: ${future.join(', ')}`);
        const past = await collect(driver.staleUploads(new Date(Date.now() - 3_600_000)));
        assert.ok(!past.includes(idle) && !past.includes(busy), `stale an hour ago: ${past.join(', ')}`);
      }));
    });

    describe(`large objects (${(largeBytes / MiB).toFixed(1)} MiB, streamed, never held whole)`, () => {
      const expected = prngDigest(42, largeBytes);

      async function verifyLarge(driver: StorageDriver, objectKey: string): Promise<void> {
        assert.equal((await driver.stat(objectKey))?.size, largeBytes);
        const whole = await streamDigest(await driver.read(objectKey));
        assert.equal(whole.size, largeBytes);
        assert.equal(whole.sha256, expected);
        for (const at of [5 * MiB, 16 * MiB, Math.floor(largeBytes / 2), largeBytes - 10]) {
          const start = Math.max(0, Math.min(at - 100, largeBytes - 1));
          const end = Math.min(largeBytes, at + 100);
          assert.deepEqual(await readAll(await driver.read(objectKey, { start, end })), prngBytes(42, start, end), `range at ${at}`);
        }
      }

      it('write of a stream', { timeout: 300_000 }, () => withDriver(async ({ driver, key }) => {
        await driver.write(key('contract/large-write'), prngStream(42, 0, largeBytes, 256 * 1024));
        await verifyLarge(driver, 'contract/large-write');
      }));

      it('appends and commit', { timeout: 300_000 }, () => withDriver(async ({ driver, key, upload }) => {
        const id = await upload();
        // Uneven appends: none aligned to a part, one smaller than the S3 minimum.
        const step = Math.max(1, Math.floor(largeBytes / 3) + 12_345);
        const cuts = [0, step, step + Math.min(3 * MiB, Math.floor(step / 2)), 2 * step, largeBytes].filter((cut, i, all) => cut <= largeBytes && (i === 0 || cut > (all[i - 1] ?? 0)));
        for (let i = 0; i + 1 < cuts.length; i++) {
          const [from, to] = [cuts[i] ?? 0, cuts[i + 1] ?? 0];
          assert.equal(await driver.appendUpload(id, from, prngStream(42, from, to, 256 * 1024)), to);
        }
        assert.equal(await driver.uploadSize(id), largeBytes);
        assert.equal((await streamDigest(await driver.readUpload(id))).sha256, expected);
        await driver.commitUpload(id, key('contract/large-upload'));
        await verifyLarge(driver, 'contract/large-upload');
      }));
    });
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function inParallel<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
