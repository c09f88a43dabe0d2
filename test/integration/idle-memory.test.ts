/**
 * Idle memory: once a server that was busy goes idle, it collects its garbage and gives the memory
 * back (V8's own memory reducer is off in bin/wharf, and an idle server allocates nothing that
 * would trigger a collection).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { pushStreamedBlob } from './mirror-fixtures.js';

interface Collection {
  time: string;
  rssBeforeMiB: number;
  rssAfterCollectionsMiB: number;
  rssAfterMiB: number;
  releasedBufferMiB: number;
  released: string[];
  trimSkipped?: string;
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

test('after a 256 MiB push and pull, the idle server empties its buffer pools, stops its background writer, empties the SQLite page caches, runs its idle collection and trims the native heap; writes go on after it', async (t) => {
  const srv = await startWharfFor(t, { config: { log: { level: 'debug' } } });
  const collections = () =>
    srv
      .logs()
      .split('\n')
      .filter((line) => line.includes('"idle: memory collected"'))
      .map((line) => JSON.parse(line) as Collection);

  const digest = await pushStreamedBlob(srv.url, 'idle/blob', 'idle-memory', 256 << 20);
  // A pull streams the file through the filesystem driver's pool of 1 MiB read buffers.
  const pull = await fetch(`${srv.url}/v2/idle/blob/blobs/${digest}`);
  assert.equal(pull.status, 200);
  let pulled = 0;
  for await (const chunk of pull.body!) pulled += (chunk as Uint8Array).length;
  assert.equal(pulled, 256 << 20);
  const pushedAt = new Date().toISOString();
  const busyRss = rssMiB(srv.process.pid!);

  // Checks run every 10 s: the first window without the push is idle at most ~20 s later.
  let after: Collection | undefined;
  for (let waited = 0; !after && waited < 60_000; waited += 500) {
    await sleep(500);
    after = collections().find((c) => c.time > pushedAt);
  }
  assert.ok(after, `no idle collection logged within 60 s of the push (${collections().length} before it)`);
  // How much RSS the collection gives back depends on the allocator and on what else ran: seen
  // from 0 to 50 MiB on the same machine, so it is a benchmark figure (docs/benchmarks.md), not
  // asserted here. What is asserted: the collection ran once the server went idle, and the log
  // line reports real figures.
  assert.ok(after.rssBeforeMiB > 0 && after.rssAfterMiB > 0 && after.rssAfterMiB <= busyRss + 64, JSON.stringify(after));
  // The pull left its read buffers pooled (up to 16 MiB); an idle server lets them go.
  assert.ok(after.releasedBufferMiB >= 1, `no pooled buffers released: ${JSON.stringify(after)}`);
  // On this Debian machine (glibc) the native heap is trimmed after the collections
  // (test/unit/native-heap.test.ts shows the trim itself giving memory back).
  assert.equal(after.trimSkipped, undefined, `native heap not trimmed: ${after.trimSkipped}`);
  assert.ok(after.rssAfterMiB <= after.rssAfterCollectionsMiB + 1, JSON.stringify(after));
  // The SQLite background writer's thread stopped and the page caches were emptied while idle ...
  assert.deepEqual(after.released, ['database background writer', 'SQLite page caches']);
  // ... and the next pulls start it again: their counts reach the database through it.
  const image = ociImage();
  await pushImage(srv.url, 'idle/image', 'v1', image);
  const manifestUrl = `${srv.url}/v2/idle/image/manifests/v1`;
  for (let i = 0; i < 3; i++) assert.equal((await get(manifestUrl, { headers: { accept: image.manifest.mediaType } })).status, 200);
  let pullCount = 0;
  for (let waited = 0; pullCount < 3 && waited < 10_000; waited += 100) {
    await sleep(100);
    pullCount = ((await get(`${srv.url}/api/v1/repositories/idle/image/-/manifests/v1`)).json() as { pullCount: number }).pullCount;
  }
  assert.equal(pullCount, 3, 'the pulls after the idle collection were counted');
  assert.doesNotMatch(srv.logs(), /background writer failed/);
  t.diagnostic(`RSS after the push ${busyRss.toFixed(0)} MiB; collection ${after.rssBeforeMiB} -> ${after.rssAfterCollectionsMiB} MiB, trim -> ${after.rssAfterMiB} MiB; now ${rssMiB(srv.process.pid!).toFixed(0)} MiB`);
});
