/**
 * GET /v2/<name>/referrers/<digest>: descriptors, artifactType (own, else config media type),
 * annotations, the artifactType filter, unknown subjects, invalid digests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { del, get, pushBlob, pushImage, pushManifest } from '../fixtures/http.js';
import { doc, MEDIA, ociArtifact, ociImage, ociIndex, randomBlob, sha256, type Descriptor } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Array<Descriptor & { artifactType?: string }>;
}

describe('referrers', () => {
  let srv: WharfServer;
  const base = ociImage();
  const subject: Descriptor = { mediaType: MEDIA.ociManifest, digest: base.manifest.digest, size: base.manifest.size };
  const sbom = ociArtifact(subject, 'application/vnd.example.sbom.v1');
  const sig = ociImage({ subject, artifactType: 'application/vnd.example.sig.v1', annotations: { 'org.example.signer': 'alice', 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } });
  const cfgBytes = Buffer.from('{"kind":"attestation"}');
  const layer = randomBlob(64);
  // no artifactType: the config media type stands in
  const attestation = doc(MEDIA.ociManifest, {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: 'application/vnd.example.attestation.config.v1+json', digest: sha256(cfgBytes), size: cfgBytes.length },
    layers: [{ mediaType: 'application/octet-stream', digest: sha256(layer), size: layer.length }],
    subject,
  });
  const idx = ociIndex([base], { subject, annotations: { note: 'an index as referrer' } });

  before(async () => {
    srv = await startWharf();
    await pushImage(srv.url, 'ref/app', 'v1', base);
    await pushImage(srv.url, 'ref/app', sbom.manifest.digest, sbom);
    await pushImage(srv.url, 'ref/app', sig.manifest.digest, sig);
    await pushBlob(srv.url, 'ref/app', sha256(cfgBytes), cfgBytes);
    await pushBlob(srv.url, 'ref/app', sha256(layer), layer);
    assert.equal((await pushManifest(srv.url, 'ref/app', attestation.digest, attestation)).status, 201);
    assert.equal((await pushManifest(srv.url, 'ref/app', idx.manifest.digest, idx.manifest)).status, 201);
  });
  after(() => srv.stop());

  test('lists every referrer as a descriptor with artifactType and annotations', async () => {
    const r = await get(`${srv.url}/v2/ref/app/referrers/${base.manifest.digest}`);
    assert.equal(r.status, 200, r.text());
    assert.equal(r.headers['content-type'], MEDIA.ociIndex);
    assert.equal(r.headers['oci-filters-applied'], undefined);
    const body = r.json<ReferrersIndex>();
    assert.equal(body.schemaVersion, 2);
    assert.equal(body.mediaType, MEDIA.ociIndex);
    const byDigest = new Map(body.manifests.map((d) => [d.digest, d]));
    assert.equal(body.manifests.length, 4);
    assert.deepEqual(byDigest.get(sbom.manifest.digest), { mediaType: MEDIA.ociManifest, digest: sbom.manifest.digest, size: sbom.manifest.size, artifactType: 'application/vnd.example.sbom.v1' });
    assert.deepEqual(byDigest.get(sig.manifest.digest), {
      mediaType: MEDIA.ociManifest,
      digest: sig.manifest.digest,
      size: sig.manifest.size,
      artifactType: 'application/vnd.example.sig.v1',
      annotations: { 'org.example.signer': 'alice', 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    });
    assert.equal(byDigest.get(attestation.digest)?.artifactType, 'application/vnd.example.attestation.config.v1+json');
    const i = byDigest.get(idx.manifest.digest);
    assert.equal(i?.mediaType, MEDIA.ociIndex);
    assert.equal(i?.size, idx.manifest.size);
    assert.deepEqual(i?.annotations, { note: 'an index as referrer' });
  });

  test('?artifactType= filters and says so with OCI-Filters-Applied', async () => {
    const r = await get(`${srv.url}/v2/ref/app/referrers/${base.manifest.digest}?artifactType=${encodeURIComponent('application/vnd.example.sbom.v1')}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(r.json<ReferrersIndex>().manifests.map((d) => d.digest), [sbom.manifest.digest]);
    const cfgType = await get(`${srv.url}/v2/ref/app/referrers/${base.manifest.digest}?artifactType=${encodeURIComponent('application/vnd.example.attestation.config.v1+json')}`);
    assert.deepEqual(cfgType.json<ReferrersIndex>().manifests.map((d) => d.digest), [attestation.digest]);
    const none = await get(`${srv.url}/v2/ref/app/referrers/${base.manifest.digest}?artifactType=application/vnd.nothing`);
    assert.equal(none.status, 200);
    assert.equal(none.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(none.json<ReferrersIndex>().manifests, []);
  });

  test('an unknown subject (or repository): 200 with an empty index', async () => {
    for (const url of [`/v2/ref/app/referrers/${sha256('nobody')}`, `/v2/ref/other/referrers/${base.manifest.digest}`]) {
      const r = await get(`${srv.url}${url}`);
      assert.equal(r.status, 200, url);
      assert.equal(r.headers['content-type'], MEDIA.ociIndex);
      assert.deepEqual(r.json(), { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] });
    }
  });

  test('an invalid digest: 400 DIGEST_INVALID', async () => {
    for (const d of ['sha256:abc', 'latest', 'sha256:' + 'Z'.repeat(64)]) {
      assertError(await get(`${srv.url}/v2/ref/app/referrers/${d}`), 400, 'DIGEST_INVALID', d);
    }
    await assertAlive(srv.url);
  });

  test('a deleted referrer is no longer listed', async () => {
    const extra = ociArtifact(subject, 'application/vnd.example.temp');
    await pushImage(srv.url, 'ref/app', extra.manifest.digest, extra);
    const before = await get(`${srv.url}/v2/ref/app/referrers/${base.manifest.digest}`);
    assert.ok(before.json<ReferrersIndex>().manifests.some((d) => d.digest === extra.manifest.digest));
    assert.equal((await del(`${srv.url}/v2/ref/app/manifests/${extra.manifest.digest}`)).status, 202);
    const after = await get(`${srv.url}/v2/ref/app/referrers/${base.manifest.digest}`);
    assert.ok(!after.json<ReferrersIndex>().manifests.some((d) => d.digest === extra.manifest.digest));
    assert.equal(after.json<ReferrersIndex>().manifests.length, 4);
  });
});
