/**
 * A mirror cut by SIGKILL in the middle of a first pull: the upstream's body is held after 256 KiB
 * (so the client has bytes and the download is spooled, under the fetch lease), then the mirror
 * dies. After a restart on the same data nothing of the cut download is visible — the blob is not
 * in the store, its spool file is gone — and a pull of it downloads it again, verified, and caches
 * it, at once: the restarted instance released the dead process's fetch lease (which survived it:
 * the lease commits relaxed, and only a crash of the machine could take that back) instead of
 * waiting out its 30 s.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, pushImage, request } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf, startWharfFor } from '../fixtures/server.js';
import { startCountingProxy } from './mirror-fixtures.js';

const filesUnder = (directory: string): string[] =>
  existsSync(directory) ? readdirSync(directory, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)) : [];

test('SIGKILL during a first pull through the mirror: nothing partial stays, the next pull downloads and caches it whole', { timeout: 180_000 }, async (t) => {
  const upstream = await startWharfFor(t);
  const proxy = await startCountingProxy(upstream.url);
  t.after(() => proxy.close());
  const layer = randomBlob(4 << 20);
  const digest = sha256(layer);
  await pushImage(upstream.url, 'lib/cut', 'v1', ociImage({ layers: [layer] }));

  const dataDir = await makeTempDir('wharf-mirror-crash-');
  t.after(() => removeDir(dataDir));
  const config = { log: { level: 'info' }, mirror: { upstreams: [{ name: 'up', url: proxy.url, registry: 'registry.up.test', default: true }] } };
  const first = await startWharf({ dataDir, config });
  t.after(() => first.stop('SIGKILL'));

  proxy.mode = 'stall';
  proxy.stallAfter = 256 * 1024;
  const cut = await request('GET', `${first.url}/v2/up/lib/cut/blobs/${digest}`, { stream: true });
  assert.equal(cut.status, 200);
  let received = 0;
  cut.response.on('data', (chunk: Buffer) => (received += chunk.length));
  cut.response.on('error', () => undefined);
  for (let waited = 0; received === 0 && waited < 10_000; waited += 20) await sleep(20);
  assert.ok(received > 0, 'the client had bytes before the kill');
  const spooled = filesUnder(path.join(dataDir, 'mirror-spool'));
  assert.equal(spooled.length, 1, `one download spooled: ${spooled.join(', ')}`);
  assert.equal((await first.stop('SIGKILL')).signal, 'SIGKILL');
  proxy.mode = 'pass';
  proxy.release();
  assert.ok(received < layer.length, 'the client never got the whole blob');

  proxy.reset();
  const second = await startWharfFor(t, { dataDir, config });
  assert.ok(!existsSync(spooled[0]!), 'the cut spool file is gone after the restart');
  const hex = digest.slice('sha256:'.length);
  const stored = filesUnder(path.join(dataDir, 'storage')).filter((file) => path.basename(file) === hex);
  assert.deepEqual(stored, [], 'nothing of the cut download is in the store');

  const asked = Date.now();
  const again = await get(`${second.url}/v2/up/lib/cut/blobs/${digest}`, { timeoutMs: 120_000 });
  assert.equal(again.status, 200);
  assert.equal(sha256(again.body), digest);
  const took = Date.now() - asked;
  t.diagnostic(`the pull after the restart took ${took} ms`);
  assert.ok(took < 10_000, `the dead process's lease did not hold the pull back (${took} ms; the lease lasts 30 s)`);
  assert.match(second.logs(), /released mirror fetch leases of ended processes/);
  assert.equal(proxy.blobGets(digest), 1, 'downloaded once after the restart');

  // Cached once the verified download is stored (just after the pull): then it is served with the upstream failing.
  const isStored = () => filesUnder(path.join(dataDir, 'storage')).some((file) => path.basename(file) === hex);
  for (let i = 0; i < 100 && !isStored(); i++) await sleep(50);
  assert.ok(isStored(), 'stored after the verified download');
  proxy.mode = 'error503';
  const cached = await get(`${second.url}/v2/up/lib/cut/blobs/${digest}`);
  assert.equal(cached.status, 200);
  assert.equal(sha256(cached.body), digest);
});
