/**
 * GET /v2/<name>/tags/list and GET /v2/_catalog: order, n/last pagination, the Link header.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, pushBlob, pushImage, pushManifest, type Response } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

/** The target of `Link: <url>; rel="next"`, or undefined when there is none. */
function nextLink(r: Response): string | undefined {
  const link = r.headers['link'];
  if (link === undefined) return undefined;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(String(link));
  assert.ok(m, `Link header: ${link}`);
  return m[1];
}

/** Follows Link headers verbatim from `first`, collecting `key` items of each page. */
async function walk(srv: WharfServer, first: string, key: 'tags' | 'repositories', n: number): Promise<{ items: string[]; pages: number }> {
  const items: string[] = [];
  let url: string | undefined = first;
  let pages = 0;
  while (url !== undefined) {
    const r = await get(new URL(url, srv.url));
    assert.equal(r.status, 200, r.text());
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const page = r.json<Record<string, string[]>>()[key]!;
    assert.ok(page.length <= n, `page of at most ${n}`);
    items.push(...page);
    pages++;
    assert.ok(pages < 100, 'pagination terminates');
    url = nextLink(r);
    if (url !== undefined) assert.ok(url.startsWith('/v2/'), `relative Link: ${url}`);
  }
  return { items, pages };
}

describe('tags/list and _catalog', () => {
  let srv: WharfServer;
  const tags = ['v1', 'v1.0', 'v10', 'v2', 'latest', 'alpha', 'Beta', '0.1', 'z_last'];
  const sorted = [...tags].sort();
  const repos = ['cat/a', 'cat/b', 'cat/b/nested', 'cat/c', 'zz', 'abc', 'cat-x', 'cat.y'];

  before(async () => {
    srv = await startWharf();
    const img = ociImage();
    await pushImage(srv.url, 'tl/repo', tags[0]!, img);
    for (const t of tags.slice(1)) assert.equal((await pushManifest(srv.url, 'tl/repo', t, img.manifest)).status, 201);
    for (const r of repos) {
      const b = randomBlob(8);
      assert.equal((await pushBlob(srv.url, r, sha256(b), b)).status, 201);
    }
  });
  after(() => srv.stop());

  test('tags/list: all tags in lexical order, no Link', async () => {
    const r = await get(`${srv.url}/v2/tl/repo/tags/list`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { name: 'tl/repo', tags: sorted });
    assert.equal(r.headers['link'], undefined);
  });

  test('tags/list?n=: pages of n with a Link followed verbatim until done', async () => {
    for (const n of [1, 2, 3, 4, 8]) {
      const { items, pages } = await walk(srv, `/v2/tl/repo/tags/list?n=${n}`, 'tags', n);
      assert.deepEqual(items, sorted, `n=${n}`);
      assert.ok(pages >= Math.ceil(sorted.length / n), `n=${n}: ${pages} pages`);
    }
    const first = await get(`${srv.url}/v2/tl/repo/tags/list?n=2`);
    assert.deepEqual(first.json(), { name: 'tl/repo', tags: sorted.slice(0, 2) });
    assert.equal(nextLink(first), `/v2/tl/repo/tags/list?n=2&last=${encodeURIComponent(sorted[1]!)}`);
    // n as large as the list: no further page
    const all = await get(`${srv.url}/v2/tl/repo/tags/list?n=${sorted.length}`);
    assert.deepEqual(all.json<{ tags: string[] }>().tags, sorted);
    assert.equal(all.headers['link'], undefined);
  });

  test('tags/list?last=: starts after last', async () => {
    const r = await get(`${srv.url}/v2/tl/repo/tags/list?last=${encodeURIComponent('latest')}`);
    assert.deepEqual(r.json<{ tags: string[] }>().tags, sorted.filter((t) => t > 'latest'));
    const end = await get(`${srv.url}/v2/tl/repo/tags/list?last=zzzz&n=5`);
    assert.deepEqual(end.json(), { name: 'tl/repo', tags: [] });
    assert.equal(end.headers['link'], undefined);
  });

  test('tags/list?n=0: empty list, no Link', async () => {
    const r = await get(`${srv.url}/v2/tl/repo/tags/list?n=0`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { name: 'tl/repo', tags: [] });
    assert.equal(r.headers['link'], undefined);
  });

  test('tags/list of an unknown repository: NAME_UNKNOWN', async () => {
    assertError(await get(`${srv.url}/v2/tl/nothing/tags/list`), 404, 'NAME_UNKNOWN');
    await assertAlive(srv.url);
  });

  test('invalid n: 400 PAGINATION_NUMBER_INVALID', async () => {
    for (const n of ['-1', 'abc', '1.5', '', '1e3', '99999999999']) {
      assertError(await get(`${srv.url}/v2/tl/repo/tags/list?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID', `tags n=${n}`);
      assertError(await get(`${srv.url}/v2/_catalog?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID', `catalog n=${n}`);
    }
    await assertAlive(srv.url);
  });

  test('_catalog: every repository in lexical order; pages with Link; n=0 empty', async () => {
    const expected = [...repos, 'tl/repo'].sort();
    const r = await get(`${srv.url}/v2/_catalog`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { repositories: expected });
    assert.equal(r.headers['link'], undefined);
    for (const n of [1, 3, 4]) {
      const { items } = await walk(srv, `/v2/_catalog?n=${n}`, 'repositories', n);
      assert.deepEqual(items, expected, `n=${n}`);
    }
    const p = await get(`${srv.url}/v2/_catalog?n=2`);
    assert.equal(nextLink(p), `/v2/_catalog?n=2&last=${encodeURIComponent(expected[1]!)}`);
    const zero = await get(`${srv.url}/v2/_catalog?n=0`);
    assert.deepEqual(zero.json(), { repositories: [] });
    assert.equal(zero.headers['link'], undefined);
    const after = await get(`${srv.url}/v2/_catalog?last=cat%2Fb`);
    assert.deepEqual(after.json<{ repositories: string[] }>().repositories, expected.filter((x) => x > 'cat/b'));
  });
});
