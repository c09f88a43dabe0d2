/**
 * The races docs/gc.md closes, each forced into its worst interleaving with gates, on SQLite and on
 * PostgreSQL (read committed), with the filesystem store: a push checking a blob while GC deletes
 * it; GC deleting bytes while an upload, a mount or a manifest of the same digest arrives; the
 * grace period of fresh uploads and its refresh by a re-push; eviction's deletes; a crashed run's
 * leftovers. Each test fails if the protection it names is taken away.
 */
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../../src/errors.js';
import { parseDigest } from '../../src/oci/digest.js';
import { blobKey } from '../../src/storage/keys.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { dialects, Gate, harness, until, type Harness } from './gc-harness.js';

const keyOf = (digest: string) => blobKey(parseDigest(digest));
const short = (digest: string) => digest.slice('sha256:'.length);

async function bytesOf(h: Harness, repository: string, digest: string): Promise<Buffer> {
  const content = await h.registry.readBlob(repository, digest);
  const chunks: Buffer[] = [];
  if (content.pipeTo) await content.pipeTo(async (chunk) => void chunks.push(Buffer.from(chunk)));
  else for await (const chunk of content.stream!) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Pauses the first `operation` on the key of `digest`. */
function pauseStorage(h: Harness, operation: string, digest: string): Gate {
  const gate = new Gate();
  let armed = true;
  h.setStorageHook(async (op, key) => {
    if (armed && op === operation && key === keyOf(digest)) {
      armed = false;
      await gate.pass();
    }
  });
  return gate;
}

function pending<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  const tracked = promise.finally(() => (done = true));
  tracked.catch(() => undefined);
  return { settled: () => done, promise: tracked };
}

for (const dialect of dialects) {
  describe(`gc races on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('a manifest PUT whose blobs GC deleted after its first check is refused, never stored half-referenced', async (t) => {
      const h = await harness(t, dialect.name);
      const image = ociImage({ layers: [randomBlob(2048)] });
      for (const [digest, bytes] of image.blobs) await h.uploadBlob('team/app', bytes, digest);
      // The PUT has checked its blobs and is putting the manifest's bytes in place.
      const gate = pauseStorage(h, 'write', image.manifest.digest);
      const put = pending(h.registry.putManifest('team/app', 'v1', image.manifest.bytes, image.manifest.mediaType));
      await gate.reached;
      const report = await h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' });
      const deleted = new Set(report.items?.blobs.map((b) => b.digest));
      for (const digest of image.blobs.keys()) assert.ok(deleted.has(digest), 'the unreferenced blobs went');
      gate.open();
      await assert.rejects(put.promise, (error: unknown) => error instanceof RegistryError && error.code === 'MANIFEST_BLOB_UNKNOWN');
      assert.equal(await h.metadata.manifests.get('team/app', image.manifest.digest), undefined);
      assert.equal(await h.metadata.tags.resolve('team/app', 'v1'), undefined);
    });

    test('GC deleting the bytes of X while an upload of X commits: the upload waits, then puts the bytes back', async (t) => {
      const h = await harness(t, dialect.name);
      const bytes = randomBlob(4096);
      const digest = sha256(bytes);
      await h.uploadBlob('team/old', bytes, digest);
      await h.registry.deleteBlob('team/old', digest);
      const gate = pauseStorage(h, 'delete', digest);
      const run = h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' });
      await gate.reached;
      assert.equal(await h.metadata.blobs.state(digest), 'deleting');
      const upload = pending(h.uploadBlob('team/new', bytes, digest));
      await sleep(300);
      assert.equal(upload.settled(), false, 'the upload waits while GC owns the row');
      gate.open();
      await run;
      await upload.promise;
      const order = h.events.filter((e) => e.endsWith(short(digest)) && /storage:(delete|commitUpload|write)/.test(e));
      assert.deepEqual(order.slice(-2), [`storage:delete:${short(digest)}`, `storage:commitUpload:${short(digest)}`], 'bytes deleted, then put back');
      assert.equal(await h.metadata.blobs.state(digest), 'live');
      assert.ok(await h.storage.stat(keyOf(digest)), 'the bytes are there');
      assert.deepEqual(await bytesOf(h, 'team/new', digest), bytes);
    });

    test('bytes with no row being deleted while a manifest with those bytes is pushed: the PUT waits and writes them again', async (t) => {
      const h = await harness(t, dialect.name);
      const image = ociImage();
      for (const [digest, bytes] of image.blobs) await h.uploadBlob('team/app', bytes, digest);
      // The manifest's bytes are in the store with no row: a crash between writing and recording them.
      await h.storage.write(keyOf(image.manifest.digest), image.manifest.bytes);
      const old = new Date(Date.now() - 3600_000);
      await utimes(path.join(h.dir, 'storage', keyOf(image.manifest.digest)), old, old);
      const gate = pauseStorage(h, 'delete', image.manifest.digest);
      const run = h.gc.run({ dryRun: false, graceSeconds: 60, trigger: 'cli', actor: 'test' });
      await gate.reached;
      const put = pending(h.registry.putManifest('team/app', 'v1', image.manifest.bytes, image.manifest.mediaType));
      await sleep(300);
      assert.equal(put.settled(), false);
      gate.open();
      const report = await run;
      await put.promise;
      assert.deepEqual(report.items?.orphans.map((o) => o.digest), [image.manifest.digest]);
      assert.ok(await h.storage.stat(keyOf(image.manifest.digest)), 'the manifest bytes were written again');
      const got = await h.registry.getManifest('team/app', 'v1');
      assert.deepEqual(got.bytes, image.manifest.bytes);
    });

    test('a blob uploaded moments ago whose manifest is not pushed yet stays for the grace period; then goes', async (t) => {
      const h = await harness(t, dialect.name);
      const bytes = randomBlob(1000);
      const digest = sha256(bytes);
      await h.uploadBlob('team/wip', bytes, digest);
      const early = await h.gc.run({ dryRun: false, graceSeconds: 60, trigger: 'cli', actor: 'test' });
      assert.equal(early.links + early.blobs, 0);
      assert.ok(await h.metadata.blobs.findInRepository('team/wip', digest));
      h.clock.offsetMs = 61_000;
      const late = await h.gc.run({ dryRun: false, graceSeconds: 60, trigger: 'cli', actor: 'test' });
      assert.deepEqual(late.items?.links, [{ repository: 'team/wip', digest }]);
      assert.deepEqual(late.items?.blobs.map((b) => b.digest), [digest]);
      assert.equal(await h.storage.stat(keyOf(digest)), null);
    });

    test('a re-push or a mount of an existing blob refreshes its grace period', async (t) => {
      const h = await harness(t, dialect.name);
      const [a, b] = [randomBlob(700), randomBlob(800)];
      await h.uploadBlob('team/one', a, sha256(a));
      await h.uploadBlob('team/one', b, sha256(b));
      h.clock.offsetMs = 50_000;
      await h.uploadBlob('team/one', a, sha256(a)); // pushed again: the client did not know it was there
      assert.deepEqual(await h.registry.mountBlob('team/two', sha256(b), 'team/one'), { digest: sha256(b), size: b.length });
      h.clock.offsetMs = 70_000;
      const report = await h.gc.run({ dryRun: false, graceSeconds: 60, trigger: 'cli', actor: 'test' });
      // b's old link in team/one goes; its mount in team/two and the re-pushed a stay, bytes and all.
      assert.deepEqual(report.items?.links, [{ repository: 'team/one', digest: sha256(b) }]);
      assert.equal(report.blobs, 0);
      assert.ok(await h.metadata.blobs.findInRepository('team/one', sha256(a)));
      assert.ok(await h.metadata.blobs.findInRepository('team/two', sha256(b)));
    });

    test('eviction deletes through the same path: a push of the digest waits and puts the bytes back; GC leaves a fresh eviction alone', async (t) => {
      const h = await harness(t, dialect.name);
      const bytes = randomBlob(3000);
      const digest = sha256(bytes);
      await h.uploadBlob('hub/library/x', bytes, digest);
      await h.registry.deleteBlob('hub/library/x', digest);
      const gate = pauseStorage(h, 'delete', digest);
      const evicting = h.content.reclaimBlobs([digest], Date.now() + 1, { by: 'eviction' });
      await gate.reached;
      // A GC run meanwhile must not finish eviction's row (the evictor's own delete is in flight).
      const report = await h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' });
      assert.equal(report.blobs, 0);
      const push = pending(h.uploadBlob('team/private', bytes, digest));
      await sleep(300);
      assert.equal(push.settled(), false);
      gate.open();
      assert.deepEqual((await evicting).deleted.map((d) => d.digest), [digest]);
      await push.promise;
      assert.deepEqual(await bytesOf(h, 'team/private', digest), bytes);
    });

    test('a crashed run left X deleting: a push of X finishes that deletion under the GC lease and goes on', async (t) => {
      const h = await harness(t, dialect.name);
      const bytes = randomBlob(1500);
      const digest = sha256(bytes);
      await h.uploadBlob('team/a', bytes, digest);
      await h.registry.deleteBlob('team/a', digest);
      // What a run killed between marking and deleting leaves behind.
      await h.db.updateTable('blobs').set({ state: 'deleting', deleting_since: Date.now(), deleting_by: 'gc' }).where('digest', '=', digest).execute();
      const started = Date.now();
      await h.uploadBlob('team/b', bytes, digest);
      assert.ok(Date.now() - started < 5000, 'no waiting for a lease nobody holds');
      assert.equal(await h.metadata.blobs.state(digest), 'live');
      assert.deepEqual(await bytesOf(h, 'team/b', digest), bytes);
    });

    if (dialect.name === 'postgres') {
      test('GC runs while a manifest PUT holds its blobs locked inside its transaction: GC skips them, the image pulls', async (t) => {
        const h = await harness(t, dialect.name);
        const image = ociImage({ layers: [randomBlob(2048)] });
        for (const [digest, bytes] of image.blobs) await h.uploadBlob('team/app', bytes, digest);
        const gate = new Gate();
        h.setTxHook(async (call) => {
          if (call === 'manifests.add') await gate.pass();
        });
        const put = pending(h.registry.putManifest('team/app', 'v1', image.manifest.bytes, image.manifest.mediaType));
        await gate.reached;
        const report = await h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' }).finally(() => gate.open());
        await put.promise;
        assert.equal(report.links + report.blobs, 0, 'locked links and blobs are left for the next run');
        const again = await h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' });
        assert.equal(again.links + again.blobs + again.manifests, 0);
        for (const [digest, bytes] of image.blobs) assert.deepEqual(await bytesOf(h, 'team/app', digest), bytes);
        assert.deepEqual((await h.registry.getManifest('team/app', 'v1')).bytes, image.manifest.bytes);
      });

      test('a mount whose source GC deletes before the mount commits is refused; the client uploads instead', async (t) => {
        const h = await harness(t, dialect.name);
        const bytes = randomBlob(900);
        const digest = sha256(bytes);
        await h.uploadBlob('team/src', bytes, digest);
        const gate = new Gate();
        h.setTxHook(async (call) => {
          if (call === 'blobs.claimLive') await gate.pass();
        });
        const mount = pending(h.registry.mountBlob('team/dst', digest, 'team/src'));
        await gate.reached;
        const report = await h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' }).finally(() => gate.open());
        assert.equal(await mount.promise, null);
        assert.deepEqual(report.items?.blobs.map((b) => b.digest), [digest]);
        assert.equal(await h.metadata.blobs.findInRepository('team/dst', digest), undefined);
      });

      test('an upload commit holding its blob row while GC marks: GC skips the row, the blob stays live with its bytes', async (t) => {
        const h = await harness(t, dialect.name);
        const bytes = randomBlob(1200);
        const digest = sha256(bytes);
        await h.uploadBlob('team/old', bytes, digest);
        await h.registry.deleteBlob('team/old', digest);
        const gate = new Gate();
        h.setTxHook(async (call) => {
          if (call === 'blobs.link') await gate.pass();
        });
        const upload = pending(h.uploadBlob('team/new', bytes, digest));
        await gate.reached;
        const report = await h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' }).finally(() => gate.open());
        await upload.promise;
        assert.equal(report.blobs, 0);
        await until(async () => (await h.metadata.blobs.state(digest)) === 'live');
        assert.deepEqual(await bytesOf(h, 'team/new', digest), bytes);
      });
    }
  });
}
