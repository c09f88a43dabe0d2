/**
 * Manifest contents are cached whole and handed out as the same frozen object (src/registry/manifests.ts):
 * a pull allocates no answer of its own (that per-GET object was promoted to the old generation
 * under load), nobody can change what the next pull gets, and a digest recorded with another media
 * type in another repository gets its own answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ociImage } from '../fixtures/images.js';
import { harness } from './gc-harness.js';

test('a manifest pulled twice is the same frozen answer, by tag and by digest', async (t) => {
  const h = await harness(t, 'sqlite');
  const image = ociImage();
  await h.push('team/app', 'v1', image);

  const first = await h.registry.getManifest('team/app', 'v1');
  const second = await h.registry.getManifest('team/app', image.manifest.digest);
  assert.equal(second, first, 'the cached answer itself');
  assert.ok(Object.isFrozen(first));
  assert.throws(() => {
    (first as { mediaType: string }).mediaType = 'text/plain';
  }, TypeError);
  assert.deepEqual(
    { digest: first.digest, mediaType: first.mediaType, size: first.size, bytes: first.bytes.equals(image.manifest.bytes) },
    { digest: image.manifest.digest, mediaType: image.manifest.mediaType, size: image.manifest.bytes.length, bytes: true },
  );
});

test('the same bytes recorded under another media type in another repository get their own answer', async (t) => {
  const h = await harness(t, 'sqlite');
  const image = ociImage();
  await h.push('team/app', 'v1', image);
  await h.push('team/other', 'v1', image);
  const cached = await h.registry.getManifest('team/app', 'v1');
  // As if the other repository's row said otherwise (a client that sent another Content-Type).
  await h.db.updateTable('manifests').set({ media_type: 'application/vnd.docker.distribution.manifest.v2+json' }).where('repository', '=', 'team/other').execute();
  const other = await h.registry.getManifest('team/other', 'v1');
  assert.equal(other.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.ok(other.bytes.equals(cached.bytes));
  assert.equal((await h.registry.getManifest('team/app', 'v1')).mediaType, image.manifest.mediaType);
});
