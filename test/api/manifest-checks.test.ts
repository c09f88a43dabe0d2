/**
 * What a manifest PUT checks beyond its grammar — every descriptor's size against the stored blob
 * or child manifest — and how a reference that can name nothing is answered: 404 on reads and
 * deletes (as CNCF Distribution, zot and the OCI conformance suite expect), TAG_INVALID on a PUT.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { del, get, head, pushBlob, pushImage, pushManifest, type Response } from '../fixtures/http.js';
import { doc, MEDIA, multiPlatformImage, ociImage, ociIndex, randomBlob, type Doc } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

interface Detail {
  digest?: string;
  size?: number;
  storedSize?: number;
}

/** `manifest` with the descriptor of `digest` (in config, layers or manifests) given `size`. */
function withSize(manifest: Doc, digest: string, size: number): Doc {
  const resize = (d: unknown) => ((d as { digest: string }).digest === digest ? { ...(d as object), size } : d);
  const json = manifest.json;
  return doc(manifest.mediaType, {
    ...json,
    ...(json.config ? { config: resize(json.config) } : {}),
    ...(Array.isArray(json.layers) ? { layers: json.layers.map(resize) } : {}),
    ...(Array.isArray(json.manifests) ? { manifests: json.manifests.map(resize) } : {}),
  });
}

/** Asserts a MANIFEST_INVALID that names `digest`, the size declared and the size stored. */
function assertSizeRefused(res: Response, digest: string, declared: number, stored: number, what: string): void {
  const body = assertError(res, 400, 'MANIFEST_INVALID', what);
  const error = body.errors[0]!;
  assert.ok(error.message.includes(digest), `${what}: the message names the digest: ${error.message}`);
  assert.deepEqual(error.detail as Detail, { digest, size: declared, storedSize: stored }, what);
}

describe('manifest descriptor sizes', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('a layer or config descriptor whose size differs from the stored blob: MANIFEST_INVALID naming it', async () => {
    const layer = randomBlob(100_000);
    const img = ociImage({ layers: [layer] });
    for (const [digest, bytes] of img.blobs) assert.equal((await pushBlob(srv.url, 'sizes/img', digest, bytes)).status, 201);
    const layerDigest = img.layers[0]!.digest;

    const smaller = await pushManifest(srv.url, 'sizes/img', 'small', withSize(img.manifest, layerDigest, 5));
    assertSizeRefused(smaller, layerDigest, 5, layer.length, 'layer declared smaller');
    const larger = await pushManifest(srv.url, 'sizes/img', 'large', withSize(img.manifest, layerDigest, layer.length + 1));
    assertSizeRefused(larger, layerDigest, layer.length + 1, layer.length, 'layer declared larger');
    const config = await pushManifest(srv.url, 'sizes/img', 'config', withSize(img.manifest, img.config.digest, img.config.size * 2));
    assertSizeRefused(config, img.config.digest, img.config.size * 2, img.config.size, 'config');
    for (const tag of ['small', 'large', 'config']) assertError(await get(`${srv.url}/v2/sizes/img/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN', tag);

    // The honest manifest goes in.
    assert.equal((await pushManifest(srv.url, 'sizes/img', 'v1', img.manifest)).status, 201);
  });

  test('an index whose child descriptor has the wrong size: MANIFEST_INVALID naming the child', async () => {
    const idx = multiPlatformImage(64);
    for (const image of idx.images) await pushImage(srv.url, 'sizes/idx', image.manifest.digest, image);
    const child = idx.images[1]!.manifest;
    const wrong = withSize(idx.manifest, child.digest, child.size + 10);
    assertSizeRefused(await pushManifest(srv.url, 'sizes/idx', 'multi', wrong), child.digest, child.size + 10, child.size, 'child manifest');
    assert.equal((await pushManifest(srv.url, 'sizes/idx', 'multi', idx.manifest)).status, 201);
  });

  test('a Docker manifest list is checked the same way', async () => {
    const image = ociImage({ docker: true });
    await pushImage(srv.url, 'sizes/docker', image.manifest.digest, image);
    const list = ociIndex([image], { docker: true });
    const wrong = withSize(list.manifest, image.manifest.digest, 1);
    assertSizeRefused(await pushManifest(srv.url, 'sizes/docker', 'list', wrong), image.manifest.digest, 1, image.manifest.size, 'docker list');
    await assertAlive(srv.url);
  });
});

describe('references that can name no manifest', () => {
  let srv: WharfServer;
  const m = (ref: string) => `${srv.url}/v2/refs/app/manifests/${ref}`;
  before(async () => {
    srv = await startWharf();
    await pushImage(srv.url, 'refs/app', 'v1', ociImage());
  });
  after(() => srv.stop());

  const impossible = ['.INVALID_MANIFEST_NAME', '-leading-dash', 'sha256:zz', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'a'.repeat(129)];

  test('GET and HEAD answer 404 MANIFEST_UNKNOWN', async () => {
    for (const ref of impossible) {
      assertError(await get(m(ref), { headers: { accept: MEDIA.ociManifest } }), 404, 'MANIFEST_UNKNOWN', `GET ${ref}`);
      const h = await head(m(ref));
      assert.equal(h.status, 404, `HEAD ${ref}`);
      assert.equal(h.body.length, 0);
    }
  });

  test('DELETE answers 404 MANIFEST_UNKNOWN too: there is nothing such a reference could delete', async () => {
    for (const ref of impossible) assertError(await del(m(ref)), 404, 'MANIFEST_UNKNOWN', `DELETE ${ref}`);
    assert.equal((await get(m('v1'), { headers: { accept: MEDIA.ociManifest } })).status, 200, 'the real tag is untouched');
  });

  test('PUT with an invalid tag stays 400 TAG_INVALID, a malformed digest 400 DIGEST_INVALID', async () => {
    const img = ociImage();
    await pushImage(srv.url, 'refs/put', 'v1', img);
    assertError(await pushManifest(srv.url, 'refs/put', '.INVALID_MANIFEST_NAME', img.manifest), 400, 'TAG_INVALID');
    assertError(await pushManifest(srv.url, 'refs/put', 'sha256:zz', img.manifest), 400, 'DIGEST_INVALID');
  });
});
