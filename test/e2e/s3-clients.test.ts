/**
 * Real clients against Wharf on the s3 driver (Ceph RGW from scripts/test.sh, WHARF_TEST_S3_*):
 * skopeo and podman push and pull a three-layer image, with blob GETs streamed by Wharf and with
 * `redirect: true` (307 to a presigned URL of the store).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { s3Driver } from '../../src/storage/s3-driver.js';
import { createClientEnvFor, missingClients, type ClientEnv } from '../fixtures/clients.js';
import { get } from '../fixtures/http.js';
import { MEDIA } from '../fixtures/images.js';
import { listKeys, s3TestEnv, uniquePrefix, type S3TestEnv } from '../fixtures/s3.js';
import { startWharfFor, type HasAfter } from '../fixtures/server.js';

const execFileP = promisify(execFile);
const MiB = 1024 * 1024;
const s3 = s3TestEnv();
const MISSING = 'WHARF_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY are not set (scripts/test.sh starts Ceph RGW and sets them)';

if (!s3) {
  if (process.env.CI) test('wharf on s3: real clients', () => assert.fail(`CI must run the S3 tests: ${MISSING}`));
  else test('wharf on s3: real clients', { skip: MISSING }, () => undefined);
} else {
  describeClients(s3);
}

function describeClients(env: S3TestEnv): void {
  const skip = missingClients('skopeo', 'podman');
  const s3Section = (rootDirectory: string, redirect: boolean) => ({
    endpoint: env.endpoint, accessKey: env.accessKey, secretKey: env.secretKey, bucket: env.bucket, region: env.region,
    forcePathStyle: true, rootDirectory, redirect, partSize: 5 * MiB,
  });
  const rootFor = (t: HasAfter, label: string): string => {
    const root = `wharf-s3-tests/${uniquePrefix(label).slice(0, -1)}`;
    t.after(async () => {
      const driver = s3Driver(s3Section(root, false));
      try {
        for await (const id of driver.staleUploads(new Date(Date.now() + 3_600_000))) await driver.abortUpload(id);
        for await (const key of driver.list('')) await driver.delete(key);
      } finally {
        await driver.close();
      }
    });
    return root;
  };

  async function setup(t: HasAfter, label: string, redirect: boolean) {
    const root = rootFor(t, label);
    const srv = await startWharfFor(t, { config: { storage: { driver: 's3', s3: s3Section(root, redirect) } } });
    const clients = await createClientEnvFor(t, { registries: [srv.host] });
    // 12 MiB spans three 5 MiB parts: its commit is a multipart copy in the store.
    const image = await writeLayeredImage(path.join(clients.dir, 'layout'), 'layered', [2048, 12 * MiB, 300 * 1024]);
    return { root, srv, clients, image };
  }

  describe('wharf on s3: real clients', () => {
    test('skopeo and podman push and pull a three-layer image (blobs streamed by Wharf)', { skip }, async (t) => {
      const { root, srv, clients, image } = await setup(t, 'clients', false);
      const ref = `${srv.host}/s3/layered`;
      await clients.skopeo(['copy', `oci:${image.layout}:layered`, `docker://${ref}:v1`]);

      const raw = await clients.skopeo(['inspect', '--raw', `docker://${ref}:v1`]);
      assert.equal(sha256(raw.stdout), image.manifestDigest, 'the manifest is stored byte for byte');
      const stored = await listKeys(env, env.bucket, `${root}/blobs/`);
      for (const layer of image.layerDigests) {
        assert.ok(stored.includes(`${root}/blobs/sha256/${layer.slice(7, 9)}/${layer.slice(7)}`), `${layer} is in the bucket`);
      }

      await assertSkopeoPull(clients, `docker://${ref}:v1`, image);

      const pulled = await clients.podman(['pull', '-q', `${ref}:v1`]);
      assert.match(pulled.stdout.trim(), /^[0-9a-f]{64}$/);
      await clients.podman(['push', `${ref}:v1`, `docker://${srv.host}/s3/pushed-by-podman:v1`]);
      const again = JSON.parse((await clients.skopeo(['inspect', `docker://${srv.host}/s3/pushed-by-podman:v1`])).stdout) as { Layers: string[] };
      assert.equal(again.Layers.length, 3);
      await clients.podman(['rmi', '-a', '-f']);
      const repulled = await clients.podman(['pull', '-q', `${srv.host}/s3/pushed-by-podman:v1`]);
      assert.match(repulled.stdout.trim(), /^[0-9a-f]{64}$/);
    });

    test('with redirect: true skopeo and podman pull through 307s to the store', { skip }, async (t) => {
      const { srv, clients, image } = await setup(t, 'redirect', true);
      const ref = `${srv.host}/s3/redirected`;
      await clients.skopeo(['copy', `oci:${image.layout}:layered`, `docker://${ref}:v1`]);

      const big = image.layerDigests[1]!;
      const direct = await get(`${srv.url}/v2/s3/redirected/blobs/${big}`);
      assert.equal(direct.status, 307, 'blob GETs are redirected');
      assert.equal(new URL(String(direct.headers.location)).origin, new URL(env.endpoint).origin);

      await assertSkopeoPull(clients, `docker://${ref}:v1`, image);
      const pulled = await clients.podman(['pull', '-q', `${ref}:v1`]);
      assert.match(pulled.stdout.trim(), /^[0-9a-f]{64}$/);
      // Every layer and the config went through a redirect (the access log has one line per request).
      const redirected = new Set(
        srv.logs().split('\n').flatMap((line) => {
          if (!line.startsWith('{')) return [];
          const entry = JSON.parse(line) as { method?: string; status?: number; path?: string };
          return entry.method === 'GET' && entry.status === 307 && entry.path ? [entry.path.split('/').pop()] : [];
        }),
      );
      for (const digest of [image.configDigest, ...image.layerDigests]) assert.ok(redirected.has(digest), `${digest} was redirected`);
    });
  });
}

interface LayeredImage {
  layout: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

/** skopeo copies the image into a fresh OCI layout; every blob there has the digest it is named by. */
async function assertSkopeoPull(clients: ClientEnv, source: string, image: LayeredImage): Promise<void> {
  const out = path.join(clients.dir, `pulled-${randomBytes(3).toString('hex')}`);
  await clients.skopeo(['copy', source, `oci:${out}:pulled`]);
  const index = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  assert.equal(index.manifests[0]?.digest, image.manifestDigest);
  for (const digest of [image.configDigest, ...image.layerDigests]) {
    const bytes = await readFile(path.join(out, 'blobs', 'sha256', digest.slice(7)));
    assert.equal(sha256(bytes), digest);
  }
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** An OCI layout at `dir` with one image under `ref`: one gzipped tar layer per size, each holding a random file. */
async function writeLayeredImage(dir: string, ref: string, sizes: number[]): Promise<LayeredImage> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const putBlob = async (file: string): Promise<{ digest: string; size: number }> => {
    const bytes = await readFile(file);
    const digest = sha256(bytes);
    await rename(file, path.join(blobs, digest.slice(7)));
    return { digest, size: bytes.length };
  };
  const layers: Array<{ digest: string; size: number }> = [];
  const diffIds: string[] = [];
  for (const [index, size] of sizes.entries()) {
    const root = path.join(dir, `root-${index}`);
    await mkdir(root);
    await writeFile(path.join(root, `layer-${index}.bin`), randomBytes(size));
    const tar = path.join(dir, `layer-${index}.tar`);
    await execFileP('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', tar, '.']);
    diffIds.push(sha256(await readFile(tar)));
    await execFileP('gzip', ['-n', '-1', tar]);
    layers.push(await putBlob(`${tar}.gz`));
    await rm(root, { recursive: true });
  }
  const configFile = path.join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z',
    config: { Cmd: ['/layer-0.bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 's3-clients.test.ts' })),
  }));
  const config = await putBlob(configFile);
  const manifestFile = path.join(dir, 'manifest.json');
  await writeFile(manifestFile, JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, ...config },
    layers: layers.map((layer) => ({ mediaType: MEDIA.ociLayerGzip, ...layer })),
  }));
  const manifest = await putBlob(manifestFile);
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociIndex,
    manifests: [{ mediaType: MEDIA.ociManifest, ...manifest, annotations: { 'org.opencontainers.image.ref.name': ref } }],
  }));
  return { layout: dir, manifestDigest: manifest.digest, configDigest: config.digest, layerDigests: layers.map((layer) => layer.digest) };
}
