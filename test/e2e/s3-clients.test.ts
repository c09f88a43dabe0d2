/**
 * Real clients against Wharf on the s3 driver (Ceph RGW from scripts/test.sh, WHARF_TEST_S3_*):
 * skopeo and podman push and pull a three-layer image, with blob GETs streamed by Wharf and with
 * `redirect: true` (307 to a presigned URL of the store).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { s3Driver } from '../../src/storage/s3-driver.js';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { get } from '../fixtures/http.js';
import { sha256 } from '../fixtures/images.js';
import { assertSkopeoPull, writeLayeredImage } from '../fixtures/oci-layout.js';
import { listKeys, s3TestEnv, uniquePrefix, type S3TestEnv } from '../fixtures/s3.js';
import { startWharfFor, type HasAfter } from '../fixtures/server.js';

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
