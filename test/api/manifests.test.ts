/**
 * Manifests: every media type by tag and by digest, content negotiation, conditional GET,
 * validation errors, deletes, byte-for-byte storage, and concurrent PUTs to one tag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { del, get, head, pushBlob, pushImage, pushManifest, put, type Response } from '../fixtures/http.js';
import { doc, MEDIA, multiPlatformImage, ociArtifact, ociImage, ociIndex, randomBlob, sha256, type Doc } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

const ALL_TYPES = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(', ');

function assertManifestReply(r: Response, d: Pick<Doc, 'digest' | 'mediaType' | 'bytes'>, withBody: boolean, what = ''): void {
  assert.equal(r.status, 200, `${what}: ${r.text()}`);
  assert.equal(r.headers['content-type'], d.mediaType, what);
  assert.equal(r.headers['docker-content-digest'], d.digest, what);
  assert.equal(Number(r.headers['content-length']), d.bytes.length, what);
  assert.equal(r.headers['etag'], `"${d.digest}"`, what);
  if (withBody) assert.ok(r.body.equals(d.bytes), `${what}: bytes as pushed`);
  else assert.equal(r.body.length, 0, what);
}

function assertCreated(r: Response, repo: string, digest: string): void {
  assert.equal(r.status, 201, r.text());
  assert.equal(r.headers['docker-content-digest'], digest);
  assert.equal(r.headers['location'], `/v2/${repo}/manifests/${digest}`);
}

async function pushBlobs(srv: WharfServer, repo: string, blobs: Map<string, Buffer>): Promise<void> {
  for (const [d, b] of blobs) assert.equal((await pushBlob(srv.url, repo, d, b)).status, 201);
}

describe('manifests', () => {
  let srv: WharfServer;
  const m = (repo: string, ref: string) => `${srv.url}/v2/${repo}/manifests/${ref}`;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('OCI image manifest: PUT by tag, GET/HEAD by tag and by digest', async () => {
    const img = ociImage({ layers: [randomBlob(1000), randomBlob(20)] });
    assertCreated(await pushImage(srv.url, 'mf/oci', 'v1', img), 'mf/oci', img.manifest.digest);
    for (const ref of ['v1', img.manifest.digest]) {
      assertManifestReply(await get(m('mf/oci', ref), { headers: { accept: ALL_TYPES } }), img.manifest, true, `GET ${ref}`);
      assertManifestReply(await head(m('mf/oci', ref), { headers: { accept: ALL_TYPES } }), img.manifest, false, `HEAD ${ref}`);
    }
    // no Accept header at all: served as stored
    assertManifestReply(await get(m('mf/oci', 'v1')), img.manifest, true, 'no Accept');
  });

  test('PUT by digest (no tag) then tag it with a second PUT', async () => {
    const img = ociImage();
    await pushBlobs(srv, 'mf/bydigest', img.blobs);
    assertCreated(await pushManifest(srv.url, 'mf/bydigest', img.manifest.digest, img.manifest), 'mf/bydigest', img.manifest.digest);
    assertManifestReply(await get(m('mf/bydigest', img.manifest.digest)), img.manifest, true);
    assert.deepEqual((await get(`${srv.url}/v2/mf/bydigest/tags/list`)).json(), { name: 'mf/bydigest', tags: [] });
    assertCreated(await pushManifest(srv.url, 'mf/bydigest', 'later', img.manifest), 'mf/bydigest', img.manifest.digest);
    assertManifestReply(await get(m('mf/bydigest', 'later')), img.manifest, true);
  });

  test('OCI image index over two platforms', async () => {
    const idx = multiPlatformImage(200);
    assertCreated(await pushImage(srv.url, 'mf/index', 'multi', idx), 'mf/index', idx.manifest.digest);
    assertManifestReply(await get(m('mf/index', 'multi'), { headers: { accept: ALL_TYPES } }), idx.manifest, true);
    for (const child of idx.images) assertManifestReply(await get(m('mf/index', child.manifest.digest)), child.manifest, true);
  });

  test('Docker schema 2 manifest and Docker manifest list', async () => {
    const img = ociImage({ docker: true });
    assertCreated(await pushImage(srv.url, 'mf/docker', 'v2s2', img), 'mf/docker', img.manifest.digest);
    assertManifestReply(await get(m('mf/docker', 'v2s2'), { headers: { accept: MEDIA.dockerManifest } }), img.manifest, true);
    const list = multiPlatformImage(100, true);
    assert.equal(list.manifest.mediaType, MEDIA.dockerList);
    assertCreated(await pushImage(srv.url, 'mf/docker', 'list', list), 'mf/docker', list.manifest.digest);
    assertManifestReply(await get(m('mf/docker', 'list'), { headers: { accept: `${MEDIA.dockerList}, ${MEDIA.dockerManifest}` } }), list.manifest, true);
  });

  test('artifacts: artifactType with the empty config, and a custom config media type', async () => {
    const subject = ociImage();
    await pushImage(srv.url, 'mf/art', 'base', subject);
    const sbom = ociArtifact(subject.manifest.json ? { mediaType: MEDIA.ociManifest, digest: subject.manifest.digest, size: subject.manifest.size } : subject.descriptor);
    const r = await pushImage(srv.url, 'mf/art', 'sbom', sbom);
    assertCreated(r, 'mf/art', sbom.manifest.digest);
    assert.equal(r.headers['oci-subject'], subject.manifest.digest);
    assertManifestReply(await get(m('mf/art', 'sbom')), sbom.manifest, true);

    // empty-config pattern with only the empty descriptor as layer, no subject
    const empty = Buffer.from('{}');
    const emptyDesc = { mediaType: MEDIA.ociEmpty, digest: sha256(empty), size: 2 };
    assert.equal((await pushBlob(srv.url, 'mf/art', emptyDesc.digest, empty)).status, 201);
    const bare = doc(MEDIA.ociManifest, { schemaVersion: 2, mediaType: MEDIA.ociManifest, artifactType: 'application/vnd.example.thing', config: emptyDesc, layers: [emptyDesc] });
    const rb = await pushManifest(srv.url, 'mf/art', 'thing', bare);
    assertCreated(rb, 'mf/art', bare.digest);
    assert.equal(rb.headers['oci-subject'], undefined);

    // a custom config media type (e.g. a Helm chart)
    const cfg = Buffer.from('{"name":"chart","version":"1.0.0"}');
    const layer = randomBlob(300);
    assert.equal((await pushBlob(srv.url, 'mf/art', sha256(cfg), cfg)).status, 201);
    assert.equal((await pushBlob(srv.url, 'mf/art', sha256(layer), layer)).status, 201);
    const helm = doc(MEDIA.ociManifest, {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: sha256(cfg), size: cfg.length },
      layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    });
    assertCreated(await pushManifest(srv.url, 'mf/art', 'chart', helm), 'mf/art', helm.digest);
    assertManifestReply(await get(m('mf/art', 'chart')), helm, true);
  });

  test('content negotiation: a tag whose type is not accepted is MANIFEST_UNKNOWN; a digest ignores Accept', async () => {
    const img = ociImage();
    await pushImage(srv.url, 'mf/neg', 'v1', img);
    assertError(await get(m('mf/neg', 'v1'), { headers: { accept: MEDIA.dockerManifest } }), 404, 'MANIFEST_UNKNOWN');
    const h = await head(m('mf/neg', 'v1'), { headers: { accept: MEDIA.dockerManifest } });
    assert.equal(h.status, 404);
    assertManifestReply(await get(m('mf/neg', img.manifest.digest), { headers: { accept: MEDIA.dockerManifest } }), img.manifest, true);
    assertManifestReply(await head(m('mf/neg', img.manifest.digest), { headers: { accept: MEDIA.dockerManifest } }), img.manifest, false);
    // wildcards and parameters
    assertManifestReply(await get(m('mf/neg', 'v1'), { headers: { accept: '*/*' } }), img.manifest, true);
    assertManifestReply(await get(m('mf/neg', 'v1'), { headers: { accept: `${MEDIA.ociManifest}; q=0.5` } }), img.manifest, true);
  });

  test('Accept sent as several header lines in random order', async () => {
    const img = ociImage();
    const list = multiPlatformImage(50, true);
    await pushImage(srv.url, 'mf/accept', 'oci', img);
    await pushImage(srv.url, 'mf/accept', 'list', list);
    const lines = [MEDIA.dockerList, MEDIA.dockerManifest, MEDIA.ociIndex, MEDIA.ociManifest, 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
    for (let i = 0; i < 4; i++) {
      const shuffled = [...lines].sort(() => Math.random() - 0.5);
      assertManifestReply(await get(m('mf/accept', 'oci'), { headers: { accept: shuffled } }), img.manifest, true, shuffled.join());
      assertManifestReply(await get(m('mf/accept', 'list'), { headers: { accept: shuffled } }), list.manifest, true, shuffled.join());
    }
    const onlyDockerLines = [MEDIA.dockerManifest, MEDIA.dockerList];
    assertError(await get(m('mf/accept', 'oci'), { headers: { accept: onlyDockerLines } }), 404, 'MANIFEST_UNKNOWN');
  });

  test('If-None-Match with the ETag: 304', async () => {
    const img = ociImage();
    await pushImage(srv.url, 'mf/etag', 'v1', img);
    for (const ref of ['v1', img.manifest.digest]) {
      const r = await get(m('mf/etag', ref), { headers: { 'if-none-match': `"${img.manifest.digest}"` } });
      assert.equal(r.status, 304, ref);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['docker-content-digest'], img.manifest.digest);
    }
    const other = await get(m('mf/etag', 'v1'), { headers: { 'if-none-match': `"sha256:${'1'.repeat(64)}"` } });
    assertManifestReply(other, img.manifest, true);
  });

  test('a referenced blob that is missing (or only in another repository): MANIFEST_BLOB_UNKNOWN', async () => {
    const img = ociImage({ layers: [randomBlob(100), randomBlob(100)] });
    const [config, layer0] = [...img.blobs.entries()];
    await pushBlob(srv.url, 'mf/missing', config![0], config![1]);
    await pushBlob(srv.url, 'mf/missing', layer0![0], layer0![1]);
    const r = await pushManifest(srv.url, 'mf/missing', 'v1', img.manifest);
    assertError(r, 400, 'MANIFEST_BLOB_UNKNOWN');
    assertError(await get(m('mf/missing', 'v1')), 404, 'MANIFEST_UNKNOWN');
    assertError(await get(m('mf/missing', img.manifest.digest)), 404, 'MANIFEST_UNKNOWN');
    // present in a different repository does not count
    await pushImage(srv.url, 'mf/elsewhere', 'v1', img);
    assertError(await pushManifest(srv.url, 'mf/missing2', 'v1', img.manifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    await assertAlive(srv.url);
  });

  test('an index with a missing child manifest: MANIFEST_BLOB_UNKNOWN', async () => {
    const idx = multiPlatformImage(64);
    await pushBlobs(srv, 'mf/idxmissing', idx.blobs);
    const first = idx.images[0]!;
    await pushManifest(srv.url, 'mf/idxmissing', first.manifest.digest, first.manifest);
    assertError(await pushManifest(srv.url, 'mf/idxmissing', 'multi', idx.manifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    assertError(await get(m('mf/idxmissing', 'multi')), 404, 'MANIFEST_UNKNOWN');
  });

  test('malformed, truncated, wrong schemaVersion, type mismatch: MANIFEST_INVALID, nothing stored', async () => {
    const img = ociImage();
    await pushBlobs(srv, 'mf/invalid', img.blobs);
    const good = img.manifest.bytes.toString();
    const cases: Array<[string, string | Buffer, string]> = [
      ['not JSON', 'this is not json', MEDIA.ociManifest],
      ['truncated', good.slice(0, good.length - 10), MEDIA.ociManifest],
      ['empty body', '', MEDIA.ociManifest],
      ['JSON array', '[1,2]', MEDIA.ociManifest],
      ['schemaVersion 3', good.replace('"schemaVersion":2', '"schemaVersion":3'), MEDIA.ociManifest],
      ['no schemaVersion', good.replace('"schemaVersion":2,', ''), MEDIA.ociManifest],
      ['Content-Type differs from mediaType', good, MEDIA.dockerManifest],
      ['index Content-Type on an image', good, MEDIA.ociIndex],
      ['unknown media type', good.replace(MEDIA.ociManifest, 'application/vnd.example+json'), 'application/vnd.example+json'],
      ['config not a descriptor', JSON.stringify({ ...img.manifest.json, config: 'x' }), MEDIA.ociManifest],
      ['layer with a bad digest', JSON.stringify({ ...img.manifest.json, layers: [{ mediaType: MEDIA.ociLayerGzip, digest: 'sha256:xyz', size: 1 }] }), MEDIA.ociManifest],
      ['negative size', JSON.stringify({ ...img.manifest.json, layers: [{ mediaType: MEDIA.ociLayerGzip, digest: sha256('x'), size: -1 }] }), MEDIA.ociManifest],
      ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), MEDIA.ociManifest],
    ];
    for (const [what, body, type] of cases) {
      const r = await put(m('mf/invalid', 'v1'), { body, headers: { 'content-type': type } });
      assertError(r, 400, 'MANIFEST_INVALID', what);
    }
    assertError(await get(m('mf/invalid', 'v1')), 404, 'MANIFEST_UNKNOWN');
    await assertAlive(srv.url);
  });

  test('Docker schema 1: MANIFEST_INVALID with a clear message', async () => {
    const schema1 = JSON.stringify({ schemaVersion: 1, name: 'mf/s1', tag: 'v1', architecture: 'amd64', fsLayers: [], history: [], signatures: [] });
    for (const type of ['application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/vnd.docker.distribution.manifest.v1+json', 'application/json']) {
      const r = await put(m('mf/s1', 'v1'), { body: schema1, headers: { 'content-type': type } });
      const body = assertError(r, 400, 'MANIFEST_INVALID', type);
      assert.match(body.errors[0]!.message, /schema 1/i);
    }
  });

  test('PUT by a digest that does not match the body: DIGEST_INVALID', async () => {
    const img = ociImage();
    await pushBlobs(srv, 'mf/dmis', img.blobs);
    const wrong = sha256('something else');
    assertError(await pushManifest(srv.url, 'mf/dmis', wrong, img.manifest), 400, 'DIGEST_INVALID');
    assertError(await get(m('mf/dmis', wrong)), 404, 'MANIFEST_UNKNOWN');
    assertError(await get(m('mf/dmis', img.manifest.digest)), 404, 'MANIFEST_UNKNOWN');
    assertError(await pushManifest(srv.url, 'mf/dmis', 'sha256:1234', img.manifest), 400, 'DIGEST_INVALID');
  });

  test('a manifest over 4 MiB: 413 (announced by Content-Length or streamed chunked)', async () => {
    const img = ociImage();
    await pushBlobs(srv, 'mf/big', img.blobs);
    const big = Buffer.from(JSON.stringify({ ...img.manifest.json, annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } }));
    const r1 = await put(m('mf/big', 'v1'), { body: big, headers: { 'content-type': MEDIA.ociManifest } });
    assertError(r1, 413, 'MANIFEST_INVALID', 'content-length');
    async function* stream() {
      for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536);
    }
    const r2 = await put(m('mf/big', 'v1'), { body: stream(), headers: { 'content-type': MEDIA.ociManifest } });
    assertError(r2, 413, 'MANIFEST_INVALID', 'chunked');
    assertError(await get(m('mf/big', 'v1')), 404, 'MANIFEST_UNKNOWN');
    await assertAlive(srv.url);
    // just under the limit is fine
    const fits = Buffer.from(JSON.stringify({ ...img.manifest.json, annotations: { pad: 'x'.repeat(4 * 1024 * 1024 - 1024) } }));
    assert.ok(fits.length <= 4 * 1024 * 1024);
    assert.equal((await put(m('mf/big', 'v1'), { body: fits, headers: { 'content-type': MEDIA.ociManifest } })).status, 201);
  });

  test('an invalid tag: TAG_INVALID', async () => {
    const img = ociImage();
    await pushBlobs(srv, 'mf/tag', img.blobs);
    for (const tag of ['-leading-dash', '.dot', 'a'.repeat(129), 'sp%20ace', 'x%2Fy']) {
      assertError(await pushManifest(srv.url, 'mf/tag', tag, img.manifest), 400, 'TAG_INVALID', tag);
    }
    assert.equal((await pushManifest(srv.url, 'mf/tag', 'A_b.c-1' + 'z'.repeat(121), img.manifest)).status, 201, '128-char tag');
  });

  test('subject: PUT answers OCI-Subject', async () => {
    const base = ociImage();
    await pushImage(srv.url, 'mf/subject', 'v1', base);
    const sig = ociImage({ subject: { mediaType: MEDIA.ociManifest, digest: base.manifest.digest, size: base.manifest.size }, artifactType: 'application/vnd.example.sig' });
    const r = await pushImage(srv.url, 'mf/subject', sig.manifest.digest, sig);
    assert.equal(r.status, 201);
    assert.equal(r.headers['oci-subject'], base.manifest.digest);
    // an index may have a subject too; the subject need not exist
    const ghost = sha256('not pushed');
    const idx = ociIndex([base], { subject: { mediaType: MEDIA.ociManifest, digest: ghost, size: 10 } });
    const ri = await pushManifest(srv.url, 'mf/subject', 'idx', idx.manifest);
    assert.equal(ri.status, 201, ri.text());
    assert.equal(ri.headers['oci-subject'], ghost);
  });

  test('DELETE by digest: 202, manifest and its tags gone', async () => {
    const img = ociImage();
    await pushImage(srv.url, 'mf/deld', 'a', img);
    await pushManifest(srv.url, 'mf/deld', 'b', img.manifest);
    const keep = ociImage();
    await pushImage(srv.url, 'mf/deld', 'keep', keep);
    const r = await del(m('mf/deld', img.manifest.digest));
    assert.equal(r.status, 202);
    assertError(await get(m('mf/deld', img.manifest.digest)), 404, 'MANIFEST_UNKNOWN');
    assertError(await get(m('mf/deld', 'a')), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await head(m('mf/deld', 'b'))).status, 404);
    assert.deepEqual((await get(`${srv.url}/v2/mf/deld/tags/list`)).json(), { name: 'mf/deld', tags: ['keep'] });
    assertError(await del(m('mf/deld', img.manifest.digest)), 404, 'MANIFEST_UNKNOWN');
  });

  test('DELETE by tag: the tag goes, the manifest stays by digest', async () => {
    const img = ociImage();
    await pushImage(srv.url, 'mf/delt', 'v1', img);
    assert.equal((await del(m('mf/delt', 'v1'))).status, 202);
    assertError(await get(m('mf/delt', 'v1')), 404, 'MANIFEST_UNKNOWN');
    assertManifestReply(await get(m('mf/delt', img.manifest.digest)), img.manifest, true);
    assertError(await del(m('mf/delt', 'v1')), 404, 'MANIFEST_UNKNOWN');
  });

  test('DELETE unknown: MANIFEST_UNKNOWN (tag, digest, unknown repository)', async () => {
    assertError(await del(m('mf/nothing', 'v1')), 404, 'MANIFEST_UNKNOWN');
    assertError(await del(m('mf/nothing', sha256('x'))), 404, 'MANIFEST_UNKNOWN');
    assertError(await del(m('mf/nothing', 'sha256:zz')), 404, 'MANIFEST_UNKNOWN');
    await assertAlive(srv.url);
  });

  test('GET of an unknown tag, digest or repository: 404 MANIFEST_UNKNOWN', async () => {
    assertError(await get(m('mf/never', 'v1')), 404, 'MANIFEST_UNKNOWN');
    assertError(await get(m('mf/never', sha256('y'))), 404, 'MANIFEST_UNKNOWN');
    const h = await head(m('mf/never', 'v1'));
    assert.equal(h.status, 404);
    assert.equal(h.body.length, 0);
  });

  test('bytes are stored and served exactly as pushed (odd whitespace, key order, no trailing newline)', async () => {
    const img = ociImage();
    await pushBlobs(srv, 'mf/bytes', img.blobs);
    const cfg = img.manifest.json.config as Record<string, unknown>;
    const layers = img.manifest.json.layers as Array<Record<string, unknown>>;
    const text =
      '{\n\t"layers" :  [ ' +
      layers.map((l) => `{"size":${String(l.size)},   "digest":"${String(l.digest)}","mediaType":"${String(l.mediaType)}"}`).join(',') +
      ' ],\r\n   "config":{"digest":"' + String(cfg.digest) + '","size":' + String(cfg.size) + ',"mediaType":"' + String(cfg.mediaType) + '"},' +
      '"mediaType":"' + MEDIA.ociManifest + '",   "schemaVersion" : 2 ,"annotations":{"x":"caf\\u00e9 ü"}   }\n\n';
    const bytes = Buffer.from(text);
    const digest = sha256(bytes);
    const r = await put(m('mf/bytes', 'odd'), { body: bytes, headers: { 'content-type': MEDIA.ociManifest } });
    assertCreated(r, 'mf/bytes', digest);
    for (const ref of ['odd', digest]) {
      const g = await get(m('mf/bytes', ref));
      assertManifestReply(g, { digest, mediaType: MEDIA.ociManifest, bytes }, true, ref);
      assert.equal(sha256(g.body), digest);
    }
  });

  test('PUT without Content-Type takes the mediaType from the body', async () => {
    const img = ociImage();
    await pushBlobs(srv, 'mf/notype', img.blobs);
    const r = await put(m('mf/notype', 'v1'), { body: img.manifest.bytes });
    assertCreated(r, 'mf/notype', img.manifest.digest);
    assertManifestReply(await get(m('mf/notype', 'v1')), img.manifest, true);
  });

  test('re-pushing the same manifest is idempotent; moving a tag points it at the new manifest', async () => {
    const a = ociImage();
    const b = ociImage();
    await pushImage(srv.url, 'mf/move', 'v1', a);
    assertCreated(await pushManifest(srv.url, 'mf/move', 'v1', a.manifest), 'mf/move', a.manifest.digest);
    await pushImage(srv.url, 'mf/move', 'v1', b);
    assertManifestReply(await get(m('mf/move', 'v1')), b.manifest, true);
    assertManifestReply(await get(m('mf/move', a.manifest.digest)), a.manifest, true);
  });

  test('two clients PUT different manifests to one tag at once: both 201, the tag ends on one of them consistently', async () => {
    for (let round = 0; round < 5; round++) {
      const imgs = [ociImage(), ociImage(), ociImage()];
      for (const img of imgs) await pushBlobs(srv, 'mf/race', img.blobs);
      const results = await Promise.all(imgs.map((img) => pushManifest(srv.url, 'mf/race', 'latest', img.manifest)));
      results.forEach((r, i) => assertCreated(r, 'mf/race', imgs[i]!.manifest.digest));
      const g = await get(m('mf/race', 'latest'));
      assert.equal(g.status, 200);
      const served = String(g.headers['docker-content-digest']);
      assert.equal(sha256(g.body), served, 'body matches Docker-Content-Digest');
      assert.ok(imgs.some((img) => img.manifest.digest === served), 'tag is on one of the pushed manifests');
      const h = await head(m('mf/race', 'latest'));
      assert.equal(h.headers['docker-content-digest'], served);
      assert.equal(Number(h.headers['content-length']), g.body.length);
    }
  });
});
