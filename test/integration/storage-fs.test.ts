import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { UploadOffsetError } from '../../src/storage/driver.js';
import { checkedDriver } from '../../src/storage/checked-driver.js';
import { filesystemDriver } from '../../src/storage/fs-driver.js';
import { storageContract } from './storage-contract.js';
import { prngBytes, readAll } from './storage-data.js';

storageContract('filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-storage-'));
  const driver = checkedDriver(filesystemDriver(root));
  return {
    driver,
    reopen: async () => checkedDriver(filesystemDriver(root)),
    async cleanup() {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

// Specific to the filesystem driver: two processes (here two driver instances) appending to one
// upload at the same offset at once, as a client sending one session's PATCHes to two workers
// would. Whatever interleaving the thread pool produces, an append that succeeds must leave the
// upload holding exactly its bytes — or a size other than the one it reported, so that the
// registry's running digest is not trusted and the re-hash at commit refuses the mixture.
describe('filesystem driver: concurrent appends to one upload from two instances', () => {
  it('never leave a mixture whose size matches what the successful append reported', { timeout: 120_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-storage-race-'));
    const [one, two] = [filesystemDriver(root), filesystemDriver(root)];
    // Trickles its bytes a network chunk at a time, yielding to the event loop in between, so the
    // two appends' writes interleave.
    const trickle = (bytes: Buffer) =>
      Readable.from((async function* () {
        for (let offset = 0; offset < bytes.length; offset += 16 * 1024) {
          await new Promise((resolve) => setImmediate(resolve));
          yield bytes.subarray(offset, offset + 16 * 1024);
        }
      })());
    let conflicts = 0;
    try {
      for (let trial = 0; trial < 40; trial++) {
        const id = randomUUID();
        await one.createUpload(id);
        const prefix = prngBytes(1, 0, 1000);
        await one.appendUpload(id, 0, Readable.from([prefix]));
        const length = 64 * 1024 * (1 + (trial % 5)) + trial * 97;
        const bodies = [prngBytes(100 + trial, 0, length), prngBytes(200 + trial, 0, length + (trial % 3) * 40_000)];
        const outcomes = await Promise.allSettled([
          one.appendUpload(id, prefix.length, trickle(bodies[0]!)),
          two.appendUpload(id, prefix.length, trickle(bodies[1]!)),
        ]);
        const stored = await readAll(await one.readUpload(id));
        outcomes.forEach((outcome, index) => {
          if (outcome.status === 'rejected') {
            assert.ok(outcome.reason instanceof UploadOffsetError, String(outcome.reason));
            conflicts++;
          } else if (stored.length === outcome.value) {
            assert.ok(stored.equals(Buffer.concat([prefix, bodies[index]!])), `trial ${trial}: a mixture under a trusted size`);
          }
        });
        await one.abortUpload(id);
      }
      assert.ok(conflicts >= 40, `every trial refuses at least one of the two appends (${conflicts} refusals)`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
