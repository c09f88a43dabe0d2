/**
 * The S3 endpoint unreachable under a running Wharf (a proxy in front of the suite's Ceph RGW is
 * taken down; the end-to-end test on the reference deployment stops the RGW daemon itself):
 * 503 UNAVAILABLE for pulls and pushes, /readyz names storage, nothing half-written is visible,
 * and everything works again once the endpoint is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, head, post, pushBlob, pushImage } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { s3SkipReason, s3TestEnv, uniquePrefix } from '../fixtures/s3.js';
import { startWharfFor } from '../fixtures/server.js';
import { startTcpProxy } from '../fixtures/tcp-proxy.js';
import { assertAlive, assertUnavailable, readiness, waitForReadiness } from './faults-support.js';

test('the S3 endpoint down and back: 503 meanwhile, recovery without a restart', { skip: s3SkipReason() }, async (t) => {
  const s3 = s3TestEnv()!;
  const endpoint = new URL(s3.endpoint);
  const proxy = await startTcpProxy({ host: endpoint.hostname, port: Number(endpoint.port) });
  t.after(() => proxy.close());
  const storage = { driver: 's3', s3: { endpoint: proxy.url, accessKey: s3.accessKey, secretKey: s3.secretKey, bucket: s3.bucket, region: s3.region, forcePathStyle: true, rootDirectory: uniquePrefix('faults').slice(0, -1) } };
  const srv = await startWharfFor(t, { config: { storage } });
  const image = ociImage();
  await pushImage(srv.url, 'faults/s3', 'before', image);
  const [layer] = [...image.blobs.keys()];

  await proxy.down();
  await waitForReadiness(srv, { failing: 'storage' });
  const ready = await readiness(srv);
  assert.deepEqual(ready.failing, ['storage']);
  assert.ok(ready.ms < 10_000, `readyz answered in ${ready.ms} ms`);
  assertUnavailable(await get(`${srv.url}/v2/faults/s3/blobs/${layer}`), 'blob GET while S3 is down');
  const bytes = randomBlob(64 * 1024);
  const digest = sha256(bytes);
  const start = await post(`${srv.url}/v2/faults/s3/blobs/uploads/`);
  assertUnavailable(start, 'upload start while S3 is down');
  assert.equal((await head(`${srv.url}/v2/faults/s3/blobs/${digest}`)).status, 404, 'nothing half-written is visible');
  assertAlive(srv);

  await proxy.up();
  await waitForReadiness(srv, { ok: true });
  const pulled = await get(`${srv.url}/v2/faults/s3/blobs/${layer}`);
  assert.equal(pulled.status, 200);
  assert.equal(sha256(pulled.body), layer);
  assert.equal((await pushBlob(srv.url, 'faults/s3', digest, bytes)).status, 201, 'the push is retried and completes');
  assertAlive(srv);
});
