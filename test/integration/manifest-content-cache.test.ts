/**
 * Manifest contents are cached whole and handed out as the same frozen object (src/registry/manifests.ts):
 * a pull allocates no answer of its own (that per-GET object was promoted to the old generation
 * under load), nobody can change what the next pull gets, and a digest recorded with another media
 * type in another repository gets its own answer. And a PUT's bytes, staged on the filesystem
 * store beside its checks, end as the object or nowhere.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import { ociImage } from '../fixtures/images.js';
import { storeTemporaries } from '../fixtures/paths.js';
import { parseDigest } from '../../src/oci/digest.js';
import { blobKey } from '../../src/storage/keys.js';
import { harness, until } from './gc-harness.js';

const keyOf = (digest: string) => blobKey(parseDigest(digest));

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

test('staged manifest bytes: placed on success, dropped when refused, not written again for a known digest; no temporary file stays', async (t) => {
  const h = await harness(t, 'sqlite', { staging: true });
  const temporaries = () => storeTemporaries(path.join(h.dir, 'storage'));
  const manifestFile = (digest: string) => path.join(h.dir, 'storage', keyOf(digest));

  const refused = ociImage();
  await assert.rejects(h.registry.putManifest('team/app', 'x', refused.manifest.bytes, refused.manifest.mediaType), (e: unknown) => e instanceof RegistryError && e.code === 'MANIFEST_BLOB_UNKNOWN');
  await until(async () => (await temporaries()).length === 0);
  assert.equal(existsSync(manifestFile(refused.manifest.digest)), false, 'a refused manifest is no object');

  const image = ociImage();
  await h.push('team/app', 'v1', image);
  assert.ok((await readFile(manifestFile(image.manifest.digest))).equals(image.manifest.bytes));
  const inode = (await stat(manifestFile(image.manifest.digest))).ino;
  await h.registry.putManifest('team/app', 'v2', image.manifest.bytes, image.manifest.mediaType);
  assert.equal((await stat(manifestFile(image.manifest.digest))).ino, inode, 'a known digest is not written again');
  assert.equal((await h.registry.getManifest('team/app', 'v2')).digest, image.manifest.digest);
  await until(async () => (await temporaries()).length === 0);
});
