/**
 * A push rule's run survives its instance: Wharf is killed (SIGKILL) in the middle of copying an
 * image of three large layers, one at a time, in bandwidth-limited chunks, with a chunk half sent.
 * Restarted over the same data, it resumes the same run once the rule's lease expires: the layers
 * already copied are not sent again, the interrupted layer's upload session continues at the
 * offset the target reports, and the copy completes digest for digest. When something between
 * the two keeps the killed runner's request open (the target then holds that session, waiting for
 * the rest of its body), the continued session times out and the next attempt sends the layer
 * again in a new session.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, pushImage } from '../fixtures/http.js';
import { MEDIA, ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf } from '../fixtures/server.js';
import { startCountingProxy, type CountingProxy } from './mirror-fixtures.js';
import { ADMIN, adminApi, startReplicatingWharf } from './replication-support.js';

const MiB = 1 << 20;
const LAYER = 8 * MiB;
const CHUNK = 2 * MiB;
const RATE = 4 * MiB;

/** Pushes the image, starts the rule, kills the source mid-chunk, restarts it; the run as it ends. */
async function killMidCopy(t: TestContext, options: { keepAbandoned: boolean; timeoutMs?: number }) {
  const target = await startWharf();
  t.after(() => target.stop());
  const proxy = await startCountingProxy(target.url, { keepAbandoned: options.keepAbandoned });
  t.after(() => proxy.close());
  const dataDir = await makeTempDir('wharf-resume-');
  t.after(() => removeDir(dataDir));

  // One blob at a time, so the kill finds some layers copied, one in flight, one not started.
  const settings = { replication: { blobConcurrency: 1, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) } };
  let source = await startReplicatingWharf(settings, { dataDir });
  t.after(() => source.stop());
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
  const patches = () => proxy.requests.filter((r) => r.startsWith('PATCH '));
  // Progress is visible while the run is going.
  let running = await api().run(started.id);
  for (let i = 0; i < 300 && running.bytes === 0; i++) {
    await sleep(100);
    running = await api().run(started.id);
  }
  assert.equal(running.status, 'running');
  assert.ok(running.bytes > 0, `progress reported while running: ${running.bytes} bytes`);
  // The kill lands as the second layer's second chunk starts streaming: mid-PATCH, mid-layer.
  const secondLayer = () => {
    const chunks = new Map<string, number>();
    for (const r of patches()) chunks.set(sessionOf(r), (chunks.get(sessionOf(r)) ?? 0) + 1);
    return [...chunks].filter(([, n]) => n >= 2)[1]?.[0];
  };
  let inFlight: string | undefined;
  for (let i = 0; i < 3_000 && inFlight === undefined; i++) {
    inFlight = secondLayer();
    if (inFlight === undefined) await sleep(10);
  }
  assert.ok(inFlight, proxy.requests.join('\n'));
  const sent = proxy.bytesIn;
  await source.stop('SIGKILL');
  const killedAt = proxy.requests.length;
  // The rule's bandwidth limit held: no more than a second's burst beyond the rate (a lower bound on time only).
  const elapsed = (Date.now() - startedAt) / 1000;
  assert.ok(elapsed >= sent / RATE - 1.5, `${sent} bytes in ${elapsed} s under a limit of ${RATE} bytes a second`);

  source = await startReplicatingWharf(settings, { dataDir });
  const run = await api().waitForRun(started.id, 120_000);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.ok(run.resumed >= 1, 'the same run was taken over after the restart');
  assert.deepEqual(run.images, { total: 1, done: 1, skipped: 0, failed: 0 });

  const manifest = await get(`${target.url}/v2/release/big/manifests/1.0`, { headers: { accept: MEDIA.ociManifest } });
  assert.equal(manifest.status, 200);
  assert.equal(sha256(manifest.body), image.manifest.digest);
  for (const layer of image.layers) {
    const blob = await get(`${target.url}/v2/release/big/blobs/${layer.digest}`);
    assert.equal(sha256(blob.body), layer.digest, 'each layer arrived whole and exact');
  }
  const after = proxy.requests.slice(killedAt).filter((r) => r.startsWith('PATCH ')).map(sessionOf);
  return { run, image, proxy, continued: after.includes(inFlight) };
}

const sessionOf = (request: string) => request.split('?')[0]!.replace(/^PATCH /, '');

/** Finished uploads of each layer, and the upload sessions that received chunks. */
function uploads(proxy: CountingProxy, layers: ReadonlyArray<{ digest: string }>) {
  return {
    finished: layers.map((layer) => proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('/blobs/uploads/') && r.includes(encodeURIComponent(layer.digest))).length),
    sessions: new Set(proxy.requests.filter((r) => r.startsWith('PATCH /v2/release/big/blobs/uploads/')).map((r) => r.split('?')[0])).size,
  };
}

test('replication: kill -9 mid-copy, restart, the run resumes and completes the copy', { timeout: 180_000 }, async (t) => {
  const { run, image, proxy, continued } = await killMidCopy(t, { keepAbandoned: false });
  assert.ok(continued, 'the session in flight at the kill was continued');
  // Resumed, not restarted: at most what was in flight at the kill is sent twice.
  assert.ok(run.bytes < 3 * LAYER + 2 * CHUNK + RATE, `bytes sent in all: ${run.bytes} for ${3 * LAYER} bytes of layers`);
  const { finished, sessions } = uploads(proxy, image.layers);
  assert.deepEqual(finished, [1, 1, 1], 'each layer uploaded once');
  assert.equal(sessions, image.blobs.size, 'one upload session a blob (the config too)');
});

test('replication: a session the target still holds for the killed runner is given up for a new one', { timeout: 180_000 }, async (t) => {
  // An idle timeout shorter than the default, so the held session fails its attempt soon.
  const { run, image, proxy, continued } = await killMidCopy(t, { keepAbandoned: true, timeoutMs: 8_000 });
  assert.ok(continued, 'the held session was tried first');
  // The interrupted layer is sent again in full, nothing else is.
  assert.ok(run.bytes < 4 * LAYER + 2 * CHUNK + RATE, `bytes sent in all: ${run.bytes} for ${3 * LAYER} bytes of layers`);
  const { finished, sessions } = uploads(proxy, image.layers);
  assert.deepEqual(finished, [1, 1, 1], 'each layer finished once');
  assert.equal(sessions, image.blobs.size + 1, 'the interrupted layer got a second session');
});
