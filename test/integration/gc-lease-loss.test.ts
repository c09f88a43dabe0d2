/**
 * A paced GC run that loses its lease in the middle of a batch: it sends no further bulk delete
 * request, the bytes it did not delete keep their `deleting` rows, and the next lease holder
 * finishes exactly those (src/registry/content-lifecycle.ts, docs/gc.md "Crashes and several
 * instances").
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { GcPacer } from '../../src/gc/pacer.js';
import { parseDigest } from '../../src/oci/digest.js';
import { contentLifecycle } from '../../src/registry/content-lifecycle.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { blobKey } from '../../src/storage/keys.js';
import { harness } from './gc-harness.js';

const keyOf = (digest: string) => blobKey(parseDigest(digest));

test('a paced run that loses its lease mid-batch stops before the next DeleteObjects; the next holder finishes', async (t) => {
  const h = await harness(t, 'sqlite');
  const digests: string[] = [];
  for (let i = 0; i < 12; i++) {
    const bytes = Buffer.from(`lease loss layer ${i}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await h.uploadBlob('lease/app', bytes, digest);
    digests.push(digest);
  }
  // Nothing references them any more, and they are old enough to go.
  await h.db.deleteFrom('repository_blobs').execute();
  await h.age(7_200_000);

  // A store with bulk deletes (as S3), recording each request.
  const requests: string[][] = [];
  const storage: StorageDriver = {
    ...h.storage,
    deleteMany: async (keys) => {
      requests.push([...keys]);
      for (const key of keys) await h.storage.delete(key);
    },
  };
  const content = contentLifecycle({ metadata: h.metadata, storage, now: Date.now, holder: 'lease-test' });
  const lease = new AbortController();
  // Paced steps of 5 keys; the lease is lost during the rest after the first request.
  const pacer: GcPacer = {
    readRows: 200,
    rowsPerStep: 25,
    keysPerRequest: 5,
    rest: async () => {
      if (requests.length === 1) lease.abort(new Error('lease lost'));
    },
  };

  const result = await content.reclaimBatches([digests], Date.now(), lease.signal, pacer);
  assert.equal(requests.length, 1, 'no bulk delete after the lease was lost');
  assert.equal(requests[0]!.length, 5);
  assert.equal(result.deleted.length, 5);
  assert.equal(result.failed.length, 7);

  const deletedNow = new Set(result.deleted.map((b) => b.digest));
  for (const digest of digests) {
    const row = await h.db.selectFrom('blobs').select('state').where('digest', '=', digest).executeTakeFirst();
    const bytes = await h.storage.stat(keyOf(digest));
    if (deletedNow.has(digest)) {
      assert.equal(row, undefined, `${digest}: bytes deleted, so its row is forgotten`);
      assert.equal(bytes, null);
    } else {
      assert.equal(row?.state, 'deleting', `${digest}: left for the next holder`);
      assert.notEqual(bytes, null, `${digest}: bytes kept`);
    }
  }

  // The next holder of the lease finishes the rows the first one owned.
  const finished = await content.finishDeletions(new AbortController().signal);
  assert.deepEqual(finished.deleted.map((b) => b.digest).sort(), result.failed.slice().sort());
  assert.equal(finished.failed.length, 0);
  for (const digest of digests) {
    assert.equal(await h.storage.stat(keyOf(digest)), null);
    assert.equal(await h.db.selectFrom('blobs').select('state').where('digest', '=', digest).executeTakeFirst(), undefined);
  }
});
