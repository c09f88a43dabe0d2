/**
 * A push rule's run survives its instance: Wharf is killed (SIGKILL) in the middle of copying an
 * image of three large layers, one at a time, in bandwidth-limited chunks. Restarted over the
 * same data, it resumes the same run once the rule's lease expires: the layers already copied are
 * not sent again, the interrupted layer's upload session continues at the offset the target
 * reports, and the copy completes digest for digest.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, pushImage } from '../fixtures/http.js';
import { MEDIA, ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf } from '../fixtures/server.js';
import { startCountingProxy } from './mirror-fixtures.js';
import { ADMIN, adminApi, startReplicatingWharf } from './replication-support.js';

const MiB = 1 << 20;
const LAYER = 8 * MiB;
const CHUNK = 2 * MiB;
const RATE = 4 * MiB;

test('replication: kill -9 mid-copy, restart, the run resumes and completes the copy', { timeout: 180_000 }, async (t) => {
  const target = await startWharf();
  t.after(() => target.stop());
  const proxy = await startCountingProxy(target.url);
  t.after(() => proxy.close());
  const dataDir = await makeTempDir('wharf-resume-');
  t.after(() => removeDir(dataDir));

  // One blob at a time, so the kill finds some layers copied, one in flight, one not started.
  const settings = { replication: { blobConcurrency: 1 } };
  let source = await startReplicatingWharf(settings, { dataDir });
  const api = () => adminApi(source);
  await api().ok('POST', '/projects', { name: 'release' });
  const image = ociImage({ layers: [randomBlob(LAYER), randomBlob(LAYER), randomBlob(LAYER)] });
  await pushImage(source.url, 'release/big', '1.0', image, { auth: ADMIN });
  await api().createRule({
    name: 'slow',
    kind: 'push',
    bandwidthBytesPerSecond: RATE,
    push: { project: 'release', target: { url: proxy.url, upload: 'chunked', chunkBytes: CHUNK }, triggers: [] },
  });

  const startedAt = Date.now();
  const started = await api().runNow('slow');
  // Progress is visible while the run is going: wait until a layer and a half and part of a chunk
  // are out, so the kill lands in the middle of a PATCH (the target holds a partial chunk).
  const KILL_AT = 1.5 * LAYER + CHUNK / 2;
  let seen = 0;
  for (let i = 0; i < 600 && seen < KILL_AT; i++) {
    const run = await api().run(started.id);
    assert.notEqual(run.status, 'failed', JSON.stringify(run));
    seen = run.bytes;
    await sleep(100);
  }
  assert.ok(seen >= KILL_AT, `progress reported while running: ${seen} bytes`);
  // The rule's bandwidth limit held: no more than a second's burst beyond the rate (a lower bound on time only).
  const elapsed = (Date.now() - startedAt) / 1000;
  assert.ok(elapsed >= seen / RATE - 1.5, `${seen} bytes in ${elapsed} s under a limit of ${RATE} bytes a second`);
  await source.stop('SIGKILL');

  source = await startReplicatingWharf(settings, { dataDir });
  t.after(() => source.stop());
  const run = await api().waitForRun(started.id, 120_000);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.ok(run.resumed >= 1, 'the same run was taken over after the restart');
  assert.deepEqual(run.images, { total: 1, done: 1, skipped: 0, failed: 0 });

  // Resumed, not restarted: at most what was in flight at the kill is sent twice.
  assert.ok(run.bytes < 3 * LAYER + 2 * CHUNK + RATE, `bytes sent in all: ${run.bytes} for ${3 * LAYER} bytes of layers`);
  for (const layer of image.layers) {
    const finished = proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('/blobs/uploads/') && r.includes(encodeURIComponent(layer.digest)));
    assert.equal(finished.length, 1, `layer ${layer.digest} uploaded once`);
  }
  const sessions = new Set(proxy.requests.filter((r) => r.startsWith('PATCH /v2/release/big/blobs/uploads/')).map((r) => r.split('?')[0]));
  assert.equal(sessions.size, image.blobs.size, 'one upload session a blob: the interrupted one was continued');

  const manifest = await get(`${target.url}/v2/release/big/manifests/1.0`, { headers: { accept: MEDIA.ociManifest } });
  assert.equal(manifest.status, 200);
  assert.equal(sha256(manifest.body), image.manifest.digest);
  for (const layer of image.layers) {
    const blob = await get(`${target.url}/v2/release/big/blobs/${layer.digest}`);
    assert.equal(sha256(blob.body), layer.digest, 'each layer arrived whole and exact');
  }
});
