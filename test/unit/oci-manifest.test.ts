import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import { mustExist, parseManifest, referrerArtifactType } from '../../src/oci/manifest.js';
import { acceptsMediaType, bareMediaType, isSchema1, manifestKind, MediaType, parseAccept } from '../../src/oci/media-types.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const config = { mediaType: MediaType.ociConfig, digest: d('c'), size: 10 };
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('1'), size: 20 };
const image = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer] };
const json = (o: unknown) => Buffer.from(JSON.stringify(o));

function invalid(body: Buffer | string, contentType: string | undefined): string {
  try {
    parseManifest(typeof body === 'string' ? Buffer.from(body) : body, contentType);
  } catch (error) {
    assert.ok(error instanceof RegistryError);
    assert.equal(error.code, 'MANIFEST_INVALID');
    return error.message;
  }
  assert.fail('expected MANIFEST_INVALID');
}

describe('oci/manifest parseManifest', () => {
  it('an OCI image manifest: config and layers must exist', () => {
    const p = parseManifest(json(image), MediaType.ociManifest);
    assert.equal(p.kind, 'image');
    assert.equal(p.mediaType, MediaType.ociManifest);
    assert.deepEqual(p.blobs.map((b) => b.digest), [config.digest, layer.digest]);
    assert.deepEqual(p.manifests, []);
    assert.deepEqual(p.config, config);
  });

  it('an index: children are manifests, with platforms', () => {
    const idx = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: MediaType.ociManifest, digest: d('2'), size: 5, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }] };
    const p = parseManifest(json(idx), MediaType.ociIndex);
    assert.equal(p.kind, 'index');
    assert.equal(p.manifests[0]!.platform?.architecture, 'arm64');
    assert.deepEqual(p.blobs, []);
  });

  it('Docker schema 2 and manifest list', () => {
    const docker = { ...image, mediaType: MediaType.dockerManifest, config: { ...config, mediaType: MediaType.dockerConfig } };
    assert.equal(parseManifest(json(docker), MediaType.dockerManifest).kind, 'image');
    const list = { schemaVersion: 2, mediaType: MediaType.dockerManifestList, manifests: [{ mediaType: MediaType.dockerManifest, digest: d('3'), size: 1, platform: { os: 'linux', architecture: 'amd64' } }] };
    assert.equal(parseManifest(json(list), MediaType.dockerManifestList).kind, 'index');
  });

  it('the media type comes from the body, else Content-Type, else the shape', () => {
    const { mediaType: _omit, ...noType } = image;
    assert.equal(parseManifest(json(noType), MediaType.ociManifest).mediaType, MediaType.ociManifest);
    assert.equal(parseManifest(json(noType), undefined).mediaType, MediaType.ociManifest);
    assert.equal(parseManifest(json(noType), 'application/json').mediaType, MediaType.ociManifest);
    assert.equal(parseManifest(json({ schemaVersion: 2, manifests: [] }), undefined).mediaType, MediaType.ociIndex);
    assert.equal(parseManifest(json(image), 'application/json').mediaType, MediaType.ociManifest);
  });

  it('artifacts: artifactType, subject, annotations; referrer artifact type falls back to the config type', () => {
    const art = { ...image, artifactType: 'application/vnd.example', subject: { mediaType: MediaType.ociManifest, digest: d('9'), size: 3 }, annotations: { a: 'b' } };
    const p = parseManifest(json(art), MediaType.ociManifest);
    assert.equal(p.artifactType, 'application/vnd.example');
    assert.equal(p.subject?.digest, d('9'));
    assert.deepEqual(p.annotations, { a: 'b' });
    assert.equal(referrerArtifactType(p), 'application/vnd.example');
    const plain = parseManifest(json({ ...image, config: { ...config, mediaType: 'application/vnd.custom.config' } }), MediaType.ociManifest);
    assert.equal(referrerArtifactType(plain), 'application/vnd.custom.config');
    const idx = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }), undefined);
    assert.equal(referrerArtifactType(idx), undefined);
  });

  it('non-distributable layers with urls need not exist', () => {
    assert.equal(mustExist({ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('4'), size: 1, urls: ['https://x'] }), false);
    assert.equal(mustExist({ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('4'), size: 1 }), true);
    assert.equal(mustExist(layer), true);
  });

  it('refuses malformed documents with MANIFEST_INVALID', () => {
    invalid('not json', MediaType.ociManifest);
    invalid(JSON.stringify(image).slice(0, -5), MediaType.ociManifest);
    invalid('', MediaType.ociManifest);
    invalid('[]', MediaType.ociManifest);
    invalid('null', MediaType.ociManifest);
    assert.match(invalid(json({ ...image, schemaVersion: 3 }), MediaType.ociManifest), /schemaVersion/);
    invalid(json({ ...image, schemaVersion: '2' }), MediaType.ociManifest);
    assert.match(invalid(json(image), MediaType.dockerManifest), /does not match/);
    invalid(json({ ...image, mediaType: 'application/vnd.unknown' }), 'application/vnd.unknown');
    invalid(json({ ...image, config: undefined }), MediaType.ociManifest);
    invalid(json({ ...image, layers: {} }), MediaType.ociManifest);
    invalid(json({ ...image, layers: [{ ...layer, digest: 'sha256:abc' }] }), MediaType.ociManifest);
    invalid(json({ ...image, layers: [{ ...layer, size: -1 }] }), MediaType.ociManifest);
    invalid(json({ ...image, layers: [{ ...layer, size: 1.5 }] }), MediaType.ociManifest);
    invalid(json({ ...image, layers: [{ ...layer, mediaType: '' }] }), MediaType.ociManifest);
    invalid(json({ ...image, annotations: { a: 1 } }), MediaType.ociManifest);
    invalid(json({ ...image, artifactType: 7 }), MediaType.ociManifest);
    invalid(json({ ...image, subject: 'x' }), MediaType.ociManifest);
    invalid(json({ schemaVersion: 2, mediaType: MediaType.ociIndex }), MediaType.ociIndex);
    invalid(json({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: MediaType.ociManifest, digest: d('2'), size: 1, platform: { os: 'linux' } }] }), MediaType.ociIndex);
    invalid(json({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config }), MediaType.dockerManifest);
    invalid(json({ schemaVersion: 2 }), undefined);
  });

  it('refuses Docker schema 1 with a message that says so', () => {
    const s1 = json({ schemaVersion: 1, name: 'x', tag: 'v1', fsLayers: [] });
    assert.match(invalid(s1, MediaType.dockerSchema1Signed), /schema 1/);
    assert.match(invalid(s1, 'application/json'), /schema 1/);
    assert.match(invalid(json(image), MediaType.dockerSchema1), /schema 1/);
  });
});

describe('oci/media-types', () => {
  it('bareMediaType strips parameters and lower-cases', () => {
    assert.equal(bareMediaType('Application/VND.OCI.image.manifest.v1+json; charset=utf-8'), MediaType.ociManifest);
    assert.equal(bareMediaType(''), undefined);
    assert.equal(bareMediaType(undefined), undefined);
  });

  it('parseAccept joins several header lines and drops q-values', () => {
    const set = parseAccept([`${MediaType.dockerManifest}, ${MediaType.ociIndex};q=0.9`, MediaType.ociManifest]);
    assert.deepEqual([...set].sort(), [MediaType.dockerManifest, MediaType.ociIndex, MediaType.ociManifest].sort());
    assert.equal(parseAccept(undefined).size, 0);
  });

  it('acceptsMediaType: no header and wildcards admit anything', () => {
    assert.equal(acceptsMediaType(new Set(), MediaType.ociIndex), true);
    assert.equal(acceptsMediaType(new Set(['*/*']), MediaType.ociIndex), true);
    assert.equal(acceptsMediaType(new Set(['application/*']), MediaType.ociIndex), true);
    assert.equal(acceptsMediaType(new Set([MediaType.dockerManifest]), MediaType.ociIndex), false);
    assert.equal(acceptsMediaType(new Set([MediaType.ociIndex]), MediaType.ociIndex), true);
  });

  it('kinds and schema 1', () => {
    assert.equal(manifestKind(MediaType.ociManifest), 'image');
    assert.equal(manifestKind(MediaType.dockerManifestList), 'index');
    assert.equal(manifestKind('application/json'), undefined);
    assert.equal(isSchema1(MediaType.dockerSchema1Signed), true);
    assert.equal(isSchema1(MediaType.ociManifest), false);
  });
});
