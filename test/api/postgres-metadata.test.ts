/**
 * The core API flows with the metadata on PostgreSQL (the scaled-out shape): pushes, pagination
 * order, concurrent pushes of one blob and one tag, deletes and referrers. Skips without
 * WHARF_TEST_POSTGRES_URL (scripts/test.sh sets it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { del, get, post, pushBlob, pushImage, pushManifest } from '../fixtures/http.js';
import { MEDIA, multiPlatformImage, ociArtifact, ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { freshDatabase, postgresSkipReason } from '../fixtures/postgres.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertError } from './support.js';

describe('core registry with PostgreSQL metadata', { skip: postgresSkipReason() }, () => {
  let srv: WharfServer;
  let dropDb: (() => Promise<void>) | undefined;
  before(async () => {
    const db = await freshDatabase(undefined, 'wharf_core');
    dropDb = db.drop;
    srv = await startWharf({ config: { database: { driver: 'postgres', postgres: { url: db.url, poolSize: 4 } } } });
  });
  after(async () => {
    await srv?.stop();
    await dropDb?.();
  });

  test('push and pull an index by tag and digest', async () => {
    const idx = multiPlatformImage(300);
    const r = await pushImage(srv.url, 'pg/multi', 'v1', idx);
    assert.equal(r.headers['docker-content-digest'], idx.manifest.digest);
    for (const ref of ['v1', idx.manifest.digest]) {
      const g = await get(`${srv.url}/v2/pg/multi/manifests/${ref}`, { headers: { accept: MEDIA.ociIndex } });
      assert.equal(g.status, 200);
      assert.equal(g.headers['content-type'], MEDIA.ociIndex);
      assert.ok(g.body.equals(idx.manifest.bytes));
    }
    assertError(await pushManifest(srv.url, 'pg/other', 'v1', idx.manifest), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('tags and catalog page in byte order, like on SQLite', async () => {
    const img = ociImage();
    const tags = ['b', 'B', 'a', 'A', '_x', '0', 'a-b', 'a.b', 'a_b', 'Z9'];
    await pushImage(srv.url, 'pg/tags', tags[0]!, img);
    for (const t of tags.slice(1)) assert.equal((await pushManifest(srv.url, 'pg/tags', t, img.manifest)).status, 201);
    const bytewise = [...tags].sort();
    assert.deepEqual((await get(`${srv.url}/v2/pg/tags/tags/list`)).json<{ tags: string[] }>().tags, bytewise);
    const seen: string[] = [];
    let url: string | undefined = '/v2/pg/tags/tags/list?n=3';
    while (url) {
      const r = await get(new URL(url, srv.url));
      seen.push(...r.json<{ tags: string[] }>().tags);
      const link = r.headers['link'];
      url = link ? /^<([^>]+)>/.exec(String(link))![1] : undefined;
    }
    assert.deepEqual(seen, bytewise);
    const repos = (await get(`${srv.url}/v2/_catalog`)).json<{ repositories: string[] }>().repositories;
    assert.deepEqual(repos, [...repos].sort());
  });

  test('concurrent pushes of one blob and to one tag', async () => {
    const bytes = randomBlob(512 * 1024);
    const digest = sha256(bytes);
    const blobs = await Promise.all([
      pushBlob(srv.url, 'pg/race', digest, bytes),
      pushBlob(srv.url, 'pg/race', digest, bytes),
      post(`${srv.url}/v2/pg/race/blobs/uploads/?digest=${digest}`, { body: bytes }),
    ]);
    for (const r of blobs) assert.equal(r.status, 201, r.text());
    for (let round = 0; round < 3; round++) {
      const imgs = [ociImage(), ociImage(), ociImage(), ociImage()];
      for (const img of imgs) for (const [d, b] of img.blobs) await pushBlob(srv.url, 'pg/race', d, b);
      const results = await Promise.all(imgs.map((img) => pushManifest(srv.url, 'pg/race', 'latest', img.manifest)));
      for (const r of results) assert.equal(r.status, 201, r.text());
      const g = await get(`${srv.url}/v2/pg/race/manifests/latest`);
      assert.equal(sha256(g.body), g.headers['docker-content-digest']);
      assert.ok(imgs.some((i) => i.manifest.digest === g.headers['docker-content-digest']));
    }
  });

  test('deletes and referrers', async () => {
    const base = ociImage();
    await pushImage(srv.url, 'pg/ref', 'v1', base);
    const art = ociArtifact({ mediaType: MEDIA.ociManifest, digest: base.manifest.digest, size: base.manifest.size });
    const put = await pushImage(srv.url, 'pg/ref', art.manifest.digest, art);
    assert.equal(put.headers['oci-subject'], base.manifest.digest);
    const refs = await get(`${srv.url}/v2/pg/ref/referrers/${base.manifest.digest}`);
    assert.deepEqual(refs.json<{ manifests: Array<{ digest: string }> }>().manifests.map((m) => m.digest), [art.manifest.digest]);
    assert.equal((await del(`${srv.url}/v2/pg/ref/manifests/v1`)).status, 202);
    assert.equal((await get(`${srv.url}/v2/pg/ref/manifests/${base.manifest.digest}`)).status, 200);
    assert.equal((await del(`${srv.url}/v2/pg/ref/manifests/${base.manifest.digest}`)).status, 202);
    assertError(await get(`${srv.url}/v2/pg/ref/manifests/${base.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
  });
});
