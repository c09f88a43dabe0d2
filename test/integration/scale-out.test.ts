/**
 * Several instances on one PostgreSQL database and one blob store (started at the same time): what
 * one instance does, the others see at once — tokens and the signing key, upload sessions (also
 * after an instance is SIGKILLed mid-PATCH), tags, the login rate limit — and two instances asked
 * for the same uncached mirror blob fetch it from the upstream once (a lease in the database).
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { get, patch, post, pushBlob, pushImage, put, request, type Response } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { freshDatabase, postgresSkipReason, type FreshDatabase } from '../fixtures/postgres.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { ADMIN, adminEnv } from '../api/auth-support.js';
import { hashStream, startCountingProxy, type CountingProxy } from './mirror-fixtures.js';

const MiB = 1024 * 1024;
const REPO = 'team/app';

/** A bearer token for `scope` from `srv`'s /token, as the admin. */
async function tokenFrom(srv: WharfServer, scope: string): Promise<string> {
  const response = await get(`${srv.url}/token?service=wharf&scope=${encodeURIComponent(scope)}`, { auth: ADMIN });
  assert.equal(response.status, 200, response.text());
  return response.json<{ token: string }>().token;
}

/** The bytes of the session the server holds (from its upload status). */
async function storedBytes(srv: WharfServer, location: string, bearer: string): Promise<number> {
  const status = await get(new URL(location, srv.url), { bearer, headers: { connection: 'close' } });
  assert.equal(status.status, 204, status.text());
  return Number(/^0-(\d+)$/.exec(String(status.headers.range))?.[1] ?? -1) + 1;
}

describe('instances sharing one database and one store', { skip: postgresSkipReason() }, () => {
  let db: FreshDatabase;
  let storeDir: string;
  let upstream: WharfServer;
  let proxy: CountingProxy;
  const instances: WharfServer[] = [];
  let config: Record<string, unknown>;

  before(async () => {
    db = await freshDatabase();
    storeDir = await makeTempDir('wharf-shared-store-');
    upstream = await startWharf();
    proxy = await startCountingProxy(upstream.url);
    config = {
      database: { driver: 'postgres', postgres: { url: db.url, poolSize: 4 } },
      storage: { driver: 'filesystem', filesystem: { rootDirectory: storeDir } },
      auth: { mode: 'token', loginRateLimit: { maxFailures: 3, windowSeconds: 60 } },
      mirror: { upstreams: [{ name: 'up', url: proxy.url, registry: 'registry.up.test', ttlSeconds: 300 }] },
    };
    // Both at once: the first start of each creates the schema and the signing key, racing.
    instances.push(...(await Promise.all([startWharf({ config, env: adminEnv }), startWharf({ config, env: adminEnv })])));
  });
  after(async () => {
    await Promise.all(instances.map((srv) => srv.stop()));
    await proxy?.close();
    await upstream?.stop();
    await db?.drop();
    await removeDir(storeDir);
  });

  test('a token issued by one instance is accepted by the other', async () => {
    const [a, b] = instances as [WharfServer, WharfServer];
    const token = await tokenFrom(a, `repository:${REPO}:pull,push`);
    const bytes = randomBlob(4096);
    assert.equal((await pushBlob(b.url, REPO, sha256(bytes), bytes, { bearer: token })).status, 201);
    assert.equal((await get(`${a.url}/v2/${REPO}/blobs/${sha256(bytes)}`, { bearer: await tokenFrom(b, `repository:${REPO}:pull`) })).status, 200);
  });

  test('one upload, each request on another instance', async () => {
    const [a, b] = instances as [WharfServer, WharfServer];
    const bearer = await tokenFrom(a, `repository:${REPO}:pull,push`);
    const blob = randomBlob(3 * MiB);
    const start = await post(`${a.url}/v2/${REPO}/blobs/uploads/`, { bearer });
    assert.equal(start.status, 202);
    let location = String(start.headers.location);
    const cuts = [0, MiB, 2 * MiB, blob.length];
    for (let i = 0; i < 3; i++) {
      const srv = instances[i % 2]!;
      const sent: Response = await patch(new URL(location, srv.url), {
        bearer,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${cuts[i]}-${cuts[i + 1]! - 1}` },
        body: blob.subarray(cuts[i], cuts[i + 1]),
      });
      assert.equal(sent.status, 202, `chunk ${i} on instance ${i % 2}: ${sent.text()}`);
      location = String(sent.headers.location);
    }
    const done = new URL(location, b.url);
    done.searchParams.set('digest', sha256(blob));
    assert.equal((await put(done, { bearer })).status, 201);
    assert.equal(sha256((await get(`${a.url}/v2/${REPO}/blobs/${sha256(blob)}`, { bearer })).body), sha256(blob));
  });

  test('an instance SIGKILLed mid-PATCH: the retry continues the session on another instance', async () => {
    const victim = await startWharf({ config, env: adminEnv });
    const [a] = instances as [WharfServer];
    const bearer = await tokenFrom(victim, `repository:${REPO}:pull,push`);
    const blob = randomBlob(8 * MiB);
    const start = await post(`${victim.url}/v2/${REPO}/blobs/uploads/`, { bearer });
    const location = String(start.headers.location);
    const body = new PassThrough();
    const cut = patch(new URL(location, victim.url), { bearer, headers: { 'content-type': 'application/octet-stream' }, body }).then(
      (r) => r.status,
      () => 'cut' as const,
    );
    body.write(blob.subarray(0, 2 * MiB));
    for (let i = 0; i < 500 && (await storedBytes(a, location, bearer)) < MiB; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    victim.process.kill('SIGKILL');
    await victim.stop();
    assert.equal(await cut, 'cut');
    body.destroy();

    const stored = await storedBytes(a, location, bearer);
    assert.ok(stored > 0 && stored <= 2 * MiB, `stored ${stored}`);
    const rest = await patch(new URL(location, a.url), {
      bearer,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${stored}-${blob.length - 1}` },
      body: blob.subarray(stored),
    });
    assert.equal(rest.status, 202, rest.text());
    const done = new URL(String(rest.headers.location), a.url);
    done.searchParams.set('digest', sha256(blob));
    assert.equal((await put(done, { bearer })).status, 201);
    assert.equal(sha256((await get(`${a.url}/v2/${REPO}/blobs/${sha256(blob)}`, { bearer })).body), sha256(blob));
  });

  test('a tag moved on one instance is seen on the other at once', async () => {
    const [a, b] = instances as [WharfServer, WharfServer];
    const bearer = await tokenFrom(a, `repository:${REPO}:pull,push`);
    for (let round = 0; round < 5; round++) {
      const image = ociImage();
      await pushImage(a.url, REPO, 'moving', image, { bearer });
      const seen = await get(`${b.url}/v2/${REPO}/manifests/moving`, { bearer, headers: { accept: image.manifest.mediaType } });
      assert.equal(seen.headers['docker-content-digest'], image.manifest.digest, `round ${round}`);
    }
  });

  test('mirror: both instances asked for one uncached blob at once, one upstream download', async () => {
    const [a, b] = instances as [WharfServer, WharfServer];
    const layer = randomBlob(2 * MiB);
    await pushImage(upstream.url, 'lib/one', 'v1', ociImage({ layers: [layer] }));
    const digest = sha256(layer);
    const bearer = await tokenFrom(a, 'repository:up/lib/one:pull');
    proxy.mode = 'stall';
    proxy.stallAfter = 256 * 1024;
    proxy.reset();
    try {
      const first = await request('GET', `${a.url}/v2/up/lib/one/blobs/${digest}`, { bearer, stream: true });
      assert.equal(first.status, 200);
      const firstHash = hashStream(first.response);
      // B asks while A's download is held mid-body: B must wait for it, not fetch again.
      const second = get(`${b.url}/v2/up/lib/one/blobs/${digest}`, { bearer, timeoutMs: 120_000 });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      proxy.release();
      assert.equal((await firstHash).digest, digest);
      const secondResponse = await second;
      assert.equal(secondResponse.status, 200);
      assert.equal(sha256(secondResponse.body), digest);
    } finally {
      proxy.mode = 'pass';
      proxy.release();
    }
    assert.equal(proxy.blobGets(digest), 1, `upstream blob GETs: ${proxy.blobRequests().join(', ')}`);
  });

  // Last: it leaves 127.0.0.1 over the limit for the window.
  test('the login rate limit counts failures on every instance together', async () => {
    const [a, b] = instances as [WharfServer, WharfServer];
    const wrong = { username: 'mallory', password: 'wrong' };
    for (const srv of [a, b, a]) assert.equal((await get(`${srv.url}/token?service=wharf`, { auth: wrong })).status, 401);
    const limited = await get(`${b.url}/token?service=wharf`, { auth: wrong });
    assert.equal(limited.status, 429, limited.text());
  });
});
