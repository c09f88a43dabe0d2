/**
 * The pull-through cache against a real upstream (a second Wharf) behind counting/faulty proxies:
 * proxy projects, registry-mirrors and ?ns= routing, read-only mirror repositories, one upstream
 * download for concurrent pulls, Range on cached and in-flight blobs, digest verification, TTL
 * revalidation, offline serving and the size limit.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase } from '../../src/metadata/database.js';
import { get, head, post, pushImage, pushManifest, request } from '../fixtures/http.js';
import { MEDIA, ociImage, randomBlob, sha256, type Image } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { freshDatabase, postgresSkipReason } from '../fixtures/postgres.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { hashStream, pushStreamedBlob, startCountingProxy, type CountingProxy } from './mirror-fixtures.js';

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

interface ErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

/** Pulls manifest + every blob of an image like a client; returns what came back. */
async function pull(base: string, repo: string, reference: string, query = '') {
  const m = await get(`${base}/v2/${repo}/manifests/${reference}${query}`, { headers: { accept: ACCEPT } });
  assert.equal(m.status, 200, `manifest ${repo}:${reference}: ${m.status} ${m.text()}`);
  const doc = m.json<{ config: { digest: string }; layers: Array<{ digest: string }> }>();
  const blobs: string[] = [];
  for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const b = await get(`${base}/v2/${repo}/blobs/${d}${query}`);
    assert.equal(b.status, 200, `blob ${d}: ${b.status} ${b.text()}`);
    assert.equal(sha256(b.body), d);
    blobs.push(d);
  }
  return { digest: String(m.headers['docker-content-digest']), manifestDigest: sha256(m.body), blobs };
}

function blobFile(server: WharfServer, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
}

const smallImage = (layerBytes = 2048): Image => ociImage({ layers: [randomBlob(layerBytes), randomBlob(512)] });

describe('mirror: pull-through cache of a Wharf upstream', () => {
  let upstream: WharfServer;
  let mirror: WharfServer;
  let up: CountingProxy;
  let flaky: CountingProxy;
  let ttl: CountingProxy;
  let down: CountingProxy;

  before(async () => {
    upstream = await startWharf();
    up = await startCountingProxy(upstream.url);
    flaky = await startCountingProxy(upstream.url);
    ttl = await startCountingProxy(upstream.url);
    down = await startCountingProxy(upstream.url);
    mirror = await startWharf({
      config: {
        mirror: {
          upstreams: [
            { name: 'up', url: up.url, registry: 'registry.up.test', ttlSeconds: 300, default: true },
            { name: 'flaky', url: flaky.url, registry: 'flaky.test', ttlSeconds: 300 },
            { name: 'ttl', url: ttl.url, registry: 'ttl.test', ttlSeconds: 1 },
            { name: 'down', url: down.url, registry: 'down.test', ttlSeconds: 1 },
          ],
        },
      },
    });
  });
  after(async () => {
    await mirror?.stop();
    await Promise.all([up, flaky, ttl, down].map((p) => p?.close()));
    await upstream?.stop();
  });

  test('proxy project: a pull serves upstream content; the second pull makes no upstream blob request', async () => {
    const img = smallImage();
    await pushImage(upstream.url, 't/app', 'v1', img);
    up.reset();
    const first = await pull(mirror.url, 'up/t/app', 'v1');
    assert.equal(first.digest, img.manifest.digest);
    assert.equal(first.manifestDigest, img.manifest.digest);
    for (const d of img.blobs.keys()) assert.equal(up.blobGets(d), 1, `one upstream GET of ${d}`);
    assert.equal(up.blobRequests().length, img.blobs.size, 'a plain GET of an uncached blob is one upstream request: no HEAD before it');

    up.reset();
    const second = await pull(mirror.url, 'up/t/app', 'v1');
    assert.deepEqual(second.blobs, first.blobs);
    assert.deepEqual(up.blobRequests(), [], 'no upstream blob request on the second pull');
    assert.deepEqual(up.requests, [], 'tag within its TTL: no upstream request at all');
    // cached bytes are ordinary content-addressed blobs in the mirror's storage (stored once the
    // verified download has been copied from the spool, which may finish just after the pull)
    for (const d of img.blobs.keys()) {
      for (let i = 0; i < 100 && !existsSync(blobFile(mirror, d)); i++) await sleep(50);
      assert.ok(existsSync(blobFile(mirror, d)), `${d} stored`);
    }

    const metrics = await get(`${mirror.url}/metrics`);
    if (metrics.status === 200) {
      assert.match(metrics.text(), /wharf_mirror_cache_hits_total\{upstream="up",kind="blob"\} [1-9]/);
      assert.match(metrics.text(), /wharf_mirror_upstream_bytes_total\{upstream="up"\} [1-9]/);
    }
  });

  test('mirror repositories are read-only: pushes are refused with DENIED', async () => {
    const start = await post(`${mirror.url}/v2/up/t/app/blobs/uploads/`);
    assert.equal(start.status, 403);
    assert.equal(start.json<ErrorBody>().errors[0]!.code, 'DENIED');
    const img = smallImage();
    const put = await pushManifest(mirror.url, 'up/t/app', 'v2', img.manifest);
    assert.equal(put.status, 403);
    assert.match(put.json<ErrorBody>().errors[0]!.message, /read-only mirror/);
    const del = await request('DELETE', `${mirror.url}/v2/up/t/app/manifests/v1`);
    assert.equal(del.status, 403);
  });

  test('registry-mirrors: a root name goes to the default upstream unless it is a private repository', async () => {
    const img = smallImage();
    await pushImage(upstream.url, 't/rooted', 'v1', img);
    const viaRoot = await pull(mirror.url, 't/rooted', 'v1');
    assert.equal(viaRoot.digest, img.manifest.digest);
    // cached under the proxy-project name: the proxy-project pull is now a cache hit
    up.reset();
    assert.equal((await pull(mirror.url, 'up/t/rooted', 'v1')).digest, img.manifest.digest);
    assert.deepEqual(up.blobRequests(), []);

    // not upstream either: the error names the upstream
    const missing = await get(`${mirror.url}/v2/t/private/manifests/v1`, { headers: { accept: ACCEPT } });
    assert.equal(missing.status, 404);
    assert.equal(missing.json<ErrorBody>().errors[0]!.code, 'MANIFEST_UNKNOWN');
    assert.match(missing.json<ErrorBody>().errors[0]!.message, /upstream up/);
    // a private push to a root name works and wins from then on; its blob HEADs get a plain 404
    // even while the default upstream cannot answer
    up.mode = 'error503';
    try {
      const probe = await head(`${mirror.url}/v2/t/private/blobs/${sha256('nothing')}`);
      assert.equal(probe.status, 404);
    } finally {
      up.mode = 'pass';
    }
    const mine = smallImage();
    await pushImage(mirror.url, 't/private', 'v1', mine);
    assert.equal((await pull(mirror.url, 't/private', 'v1')).digest, mine.manifest.digest);
  });

  test('?ns= (containerd) selects the upstream whose registry matches', async () => {
    const img = smallImage();
    await pushImage(upstream.url, 't/nsapp', 'v1', img);
    ttl.reset();
    up.reset();
    const viaNs = await pull(mirror.url, 't/nsapp', 'v1', '?ns=ttl.test');
    assert.equal(viaNs.digest, img.manifest.digest);
    assert.ok(ttl.requests.some((r) => r.startsWith('GET /v2/t/nsapp/manifests/v1')), 'went to the ttl.test upstream');
    assert.equal(up.requests.length, 0);
    // cached under ttl/…: a proxy-project pull of the same image hits the cache
    ttl.reset();
    await pull(mirror.url, 'ttl/t/nsapp', 'v1');
    assert.deepEqual(ttl.blobRequests(), []);
  });

  test('Range works on cached blobs and on blobs still downloading', async () => {
    const layer = randomBlob(1 << 20);
    const img = ociImage({ layers: [layer] });
    await pushImage(upstream.url, 't/range', 'v1', img);
    const d = sha256(layer);

    flaky.mode = 'stall';
    flaky.stallAfter = 100_000;
    flaky.reset();
    try {
      const full = await request('GET', `${mirror.url}/v2/flaky/t/range/blobs/${d}`, { stream: true });
      assert.equal(full.status, 200);
      const fullHash = hashStream(full.response);
      // within what has arrived: answered while the download is held
      const early = await get(`${mirror.url}/v2/flaky/t/range/blobs/${d}`, { headers: { range: 'bytes=1000-1999' } });
      assert.equal(early.status, 206);
      assert.equal(early.headers['content-range'], `bytes 1000-1999/${layer.length}`);
      assert.deepEqual(early.body, layer.subarray(1000, 2000));
      // beyond it: waits for the bytes, then answers
      const late = get(`${mirror.url}/v2/flaky/t/range/blobs/${d}`, { headers: { range: 'bytes=500000-500099' } });
      await sleep(50);
      flaky.release();
      const lateResponse = await late;
      assert.equal(lateResponse.status, 206);
      assert.deepEqual(lateResponse.body, layer.subarray(500000, 500100));
      assert.equal((await fullHash).digest, d);
      assert.equal(flaky.blobGets(d), 1, 'one upstream download for all three');
    } finally {
      flaky.mode = 'pass';
      flaky.release();
    }
    const cached = await get(`${mirror.url}/v2/flaky/t/range/blobs/${d}`, { headers: { range: 'bytes=-10' } });
    assert.equal(cached.status, 206);
    assert.deepEqual(cached.body, layer.subarray(layer.length - 10));
  });

  test('a first blob pull waits for no disk flush before its first byte (the fetch lease commits relaxed)', async () => {
    const layer = randomBlob(1 << 20);
    await pushImage(upstream.url, 't/lease', 'v1', ociImage({ layers: [layer] }));
    const d = sha256(layer);
    const walSyncs = async () => {
      const metrics = await get(`${mirror.url}/metrics`);
      assert.equal(metrics.status, 200);
      return Number(/^wharf_database_wal_syncs_total (\d+)/m.exec(metrics.text())?.[1]);
    };
    flaky.mode = 'stall';
    flaky.stallAfter = 100_000;
    flaky.reset();
    try {
      // Earlier tests' downloads may still be storing (their commits flush): wait for a quiet moment.
      let before = await walSyncs();
      for (let i = 0; i < 50; i++) {
        await sleep(200);
        const now = await walSyncs();
        if (now === before) break;
        before = now;
      }
      const pull = await request('GET', `${mirror.url}/v2/flaky/t/lease/blobs/${d}`, { stream: true });
      assert.equal(pull.status, 200);
      const hashed = hashStream(pull.response);
      assert.equal(await walSyncs(), before, 'no WAL fsync between the request and its first byte');
      flaky.release();
      assert.equal((await hashed).digest, d);
    } finally {
      flaky.mode = 'pass';
      flaky.release();
    }
  });

  test('20 concurrent pulls of one uncached 200 MiB blob: one upstream download, every digest right', async () => {
    const size = 200 * 1024 * 1024;
    const digest = await pushStreamedBlob(upstream.url, 't/big', 'mirror-big-blob', size);
    up.reset();
    const pulls = Array.from({ length: 20 }, async () => {
      const r = await request('GET', `${mirror.url}/v2/up/t/big/blobs/${digest}`, { stream: true, timeoutMs: 300_000 });
      assert.equal(r.status, 200);
      assert.equal(Number(r.headers['content-length']), size);
      return hashStream(r.response);
    });
    for (const result of await Promise.all(pulls)) assert.deepEqual(result, { digest, size });
    assert.equal(up.blobGets(digest), 1, `upstream saw ${up.blobGets(digest)} GETs`);
    // and it is cached now
    up.reset();
    const again = await head(`${mirror.url}/v2/up/t/big/blobs/${digest}`);
    assert.equal(again.status, 200);
    assert.equal(up.requests.length, 0);
  });

  test('first pull of a 512 MiB blob by a fast and a slow client: memory stays flat, the spool becomes the stored blob', async () => {
    const size = 512 * 1024 * 1024;
    const digest = await pushStreamedBlob(upstream.url, 't/flat', 'mirror-flat-memory', size);
    const pid = mirror.process.pid!;
    const rssMiB = (field: 'VmRSS' | 'VmHWM') => Number(/(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!)![1]) / 1024;
    // Start the peak-RSS mark (VmHWM) from here, not from the earlier tests' high point.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const before = rssMiB('VmRSS');
    const url = `${mirror.url}/v2/up/t/flat/blobs/${digest}`;
    const fast = request('GET', url, { stream: true, timeoutMs: 300_000 }).then((r) => hashStream(r.response));
    // The slow client falls far behind the download: it must read the spool file, not memory.
    const slow = request('GET', url, { stream: true, timeoutMs: 300_000 }).then(async (r) => {
      r.response.pause();
      await sleep(1500);
      return hashStream(r.response);
    });
    assert.deepEqual(await fast, { digest, size });
    assert.deepEqual(await slow, { digest, size });
    const growth = rssMiB('VmHWM') - before;
    assert.ok(growth < 160, `the mirror's peak RSS grew ${growth.toFixed(0)} MiB for a ${size >> 20} MiB blob`);
    for (let i = 0; i < 100 && !existsSync(blobFile(mirror, digest)); i++) await sleep(50);
    assert.equal(statSync(blobFile(mirror, digest)).size, size);
    const spool = path.join(mirror.dataDir, 'mirror-spool', String(pid));
    for (let i = 0; i < 100 && readdirSync(spool).length > 0; i++) await sleep(50);
    assert.deepEqual(readdirSync(spool), [], 'the spool is empty once the blob is stored');
  });

  for (const mode of ['truncate', 'corrupt'] as const) {
    test(`an upstream that ${mode === 'truncate' ? 'cuts a blob short' : 'serves wrong bytes'} leaves nothing in the cache`, async () => {
      const layer = randomBlob(300_000);
      const img = ociImage({ layers: [layer] });
      await pushImage(upstream.url, `t/bad-${mode}`, 'v1', img);
      const d = sha256(layer);
      const url = `${mirror.url}/v2/flaky/t/bad-${mode}/blobs/${d}`;
      flaky.mode = mode;
      try {
        // The failure shows as an error status (when detected before the first byte) or a cut
        // connection (the last byte is held back until the digest is checked) — never as a
        // complete body.
        const outcome = await request('GET', url, { stream: true })
          .then(async (r) => (r.status === 200 ? `complete ${(await hashStream(r.response)).digest}` : `status ${r.status}`))
          .catch((error: unknown) => `error ${String(error)}`);
        assert.match(outcome, /^(error|status 502)/, `the client must not get a complete body (${outcome})`);
        // once the download has failed, nothing is cached: with the upstream answering 503 the blob is unavailable
        flaky.mode = 'error503';
        let status = 200;
        for (let i = 0; i < 50 && status === 200; i++) {
          status = (await head(url)).status;
          if (status === 200) await sleep(20);
        }
        assert.equal(status, 503);
        assert.ok(!existsSync(blobFile(mirror, d)), 'no bytes in storage');
      } finally {
        flaky.mode = 'pass';
      }
      // a healthy upstream fills the cache properly afterwards
      flaky.reset();
      const good = await get(url);
      assert.equal(good.status, 200);
      assert.equal(sha256(good.body), d);
      assert.equal(flaky.blobGets(d), 1);
    });
  }

  test('a tag moved upstream is seen after the TTL, not before', async () => {
    const a = smallImage();
    const b = smallImage();
    await pushImage(upstream.url, 't/moving', 'v1', a);
    // The mirror stamps the tag somewhere between these two times.
    const fetchedAt = Date.now();
    assert.equal((await pull(mirror.url, 'ttl/t/moving', 'v1')).digest, a.manifest.digest);
    // The tag was cached somewhere between fetchedAt and now: its TTL runs out by now + 1 s.
    const cachedBy = Date.now();
    await pushImage(upstream.url, 't/moving', 'v1', b);
    ttl.reset();
    const within = await get(`${mirror.url}/v2/ttl/t/moving/manifests/v1`, { headers: { accept: ACCEPT } });
    if (Date.now() - fetchedAt < 1000) {
      assert.equal(within.headers['docker-content-digest'], a.manifest.digest, 'within the TTL the cached tag is served');
      assert.equal(ttl.requests.length, 0);
    }
    await sleep(Math.max(0, cachedBy + 1100 - Date.now()));
    assert.equal((await pull(mirror.url, 'ttl/t/moving', 'v1')).digest, b.manifest.digest);
    assert.ok(ttl.requests.some((r) => r.startsWith('HEAD /v2/t/moving/manifests/v1')), 'revalidated with a HEAD');
  });

  test('upstream unreachable: a cached image still pulls (stale manifest, warning logged); an uncached one fails clearly', async () => {
    const cached = smallImage();
    const never = smallImage();
    await pushImage(upstream.url, 't/offline', 'v1', cached);
    await pushImage(upstream.url, 't/never', 'v1', never);
    await pull(mirror.url, 'down/t/offline', 'v1');
    await down.close();
    await sleep(1100); // past the 1 s TTL: the tag must be revalidated, and cannot be

    const again = await pull(mirror.url, 'down/t/offline', 'v1');
    assert.equal(again.digest, cached.manifest.digest);
    assert.match(mirror.logs(), /serving stale manifest/);

    const m = await get(`${mirror.url}/v2/down/t/never/manifests/v1`, { headers: { accept: ACCEPT } });
    assert.equal(m.status, 503);
    const error = m.json<ErrorBody>().errors[0]!;
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, new RegExp(`upstream down \\(${down.url.replace(/[.]/g, '\\.')}\\)`));
    const b = await get(`${mirror.url}/v2/down/t/never/blobs/${never.layers[0]!.digest}`);
    assert.equal(b.status, 503);
    assert.equal(b.json<ErrorBody>().errors[0]!.code, 'UNAVAILABLE');
  });
});

describe('mirror: cache size limit', () => {
  test('evicts the least recently pulled content; bytes shared with a private repository stay', async (t) => {
    const upstream = await startWharf();
    t.after(() => upstream.stop());
    const mirror = await startWharf({
      config: { mirror: { cacheMaxBytes: 300_000, upstreams: [{ name: 'up', url: upstream.url, registry: 'docker.io' }] } },
    });
    t.after(() => mirror.stop());
    const [a, b, c] = [0, 1, 2].map(() => ociImage({ layers: [randomBlob(128 * 1024)] }));
    for (const [name, img] of [['a', a!], ['b', b!], ['c', c!]] as const) await pushImage(upstream.url, `t/${name}`, 'v1', img);
    // the same layer as `a` pushed privately to the mirror: its bytes must survive a's eviction
    const shared = ociImage({ layers: [a!.layers[0]!.bytes] });
    await pushImage(mirror.url, 'private/shared', 'v1', shared);

    await pull(mirror.url, 'up/t/a', 'v1');
    await pull(mirror.url, 'up/t/b', 'v1');
    await sleep(1100); // pull times are recorded with 1 s granularity
    await pull(mirror.url, 'up/t/a', 'v1'); // a is now more recent than b
    await pull(mirror.url, 'up/t/c', 'v1');

    const bLayer = blobFile(mirror, b!.layers[0]!.digest);
    for (let i = 0; i < 100 && existsSync(bLayer); i++) await sleep(50);
    assert.ok(!existsSync(bLayer), 'b (least recently pulled) evicted');
    assert.ok(existsSync(blobFile(mirror, c!.layers[0]!.digest)), 'c kept');
    assert.ok(existsSync(blobFile(mirror, a!.layers[0]!.digest)), 'a kept');
    // an evicted image is fetched again on demand
    assert.equal((await pull(mirror.url, 'up/t/b', 'v1')).digest, b!.manifest.digest);
    // docker.io upstream: proxy-project names without a namespace get library/
    await pushImage(upstream.url, 'library/solo', 'v1', smallImage());
    assert.equal((await get(`${mirror.url}/v2/up/solo/manifests/v1`, { headers: { accept: ACCEPT } })).status, 200);
  });
});

describe('mirror: several instances share one cache (PostgreSQL + one storage directory)', { skip: postgresSkipReason() }, () => {
  test('a blob cached by one instance is served by another without asking the upstream; eviction works on PostgreSQL', async (t) => {
    const upstream = await startWharf();
    t.after(() => upstream.stop());
    const proxy = await startCountingProxy(upstream.url);
    t.after(() => proxy.close());
    const database = await freshDatabase(t);
    const shared = await makeTempDir('mirror-shared-storage-');
    t.after(() => removeDir(shared));
    const config = {
      database: { driver: 'postgres', postgres: { url: database.url } },
      storage: { driver: 'filesystem', filesystem: { rootDirectory: shared } },
      mirror: { cacheMaxBytes: 200_000, upstreams: [{ name: 'up', url: proxy.url, registry: 'docker.io' }] },
    };
    const a = await startWharf({ config });
    t.after(() => a.stop());
    const b = await startWharf({ config });
    t.after(() => b.stop());

    const first = ociImage({ layers: [randomBlob(120_000)] });
    const second = ociImage({ layers: [randomBlob(120_000)] });
    await pushImage(upstream.url, 't/one', 'v1', first);
    await pushImage(upstream.url, 't/two', 'v1', second);
    await pull(a.url, 'up/t/one', 'v1');
    // The client has the last byte a moment before a commits the blob to the cache: wait for the commit.
    const db = await openDatabase({ driver: 'postgres', url: database.url, poolSize: 1 });
    t.after(() => db.destroy());
    const cached = () => db.selectFrom('mirror_cache').select('digest').where('digest', '=', first.layers[0]!.digest).executeTakeFirst();
    for (let i = 0; i < 100 && !(await cached()); i++) await sleep(50);
    proxy.reset();
    const viaB = await pull(b.url, 'up/t/one', 'v1');
    assert.equal(viaB.digest, first.manifest.digest);
    assert.deepEqual(proxy.blobRequests(), [], 'instance b served a blob instance a cached');

    // over the 200 kB limit: t/one (least recently pulled) goes, on the shared database
    await sleep(1100);
    await pull(b.url, 'up/t/two', 'v1');
    const hex = first.layers[0]!.digest.slice('sha256:'.length);
    const file = path.join(shared, 'blobs', 'sha256', hex.slice(0, 2), hex);
    for (let i = 0; i < 100 && existsSync(file); i++) await sleep(50);
    assert.ok(!existsSync(file), 'evicted');
    assert.equal((await pull(a.url, 'up/t/one', 'v1')).digest, first.manifest.digest, 'fetched again on demand');
  });
});
