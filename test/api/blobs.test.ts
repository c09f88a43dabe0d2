/**
 * Blob HEAD/GET/DELETE: headers, ranges, unknown and malformed digests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { del, get, head, pushBlob } from '../fixtures/http.js';
import { randomBlob, sha256 } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

describe('blobs', () => {
  let srv: WharfServer;
  const bytes = randomBlob(10_000);
  const digest = sha256(bytes);
  let blobUrl: string;

  before(async () => {
    srv = await startWharf();
    const r = await pushBlob(srv.url, 'blobs/one', digest, bytes);
    assert.equal(r.status, 201);
    blobUrl = `${srv.url}/v2/blobs/one/blobs/${digest}`;
  });
  after(() => srv.stop());

  test('HEAD: 200 with Content-Length, Docker-Content-Digest, ETag, no body', async () => {
    const r = await head(blobUrl);
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers['content-length']), bytes.length);
    assert.equal(r.headers['docker-content-digest'], digest);
    assert.equal(r.headers['etag'], `"${digest}"`);
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.body.length, 0);
  });

  test('GET: 200 with the exact bytes and headers', async () => {
    const r = await get(blobUrl);
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers['content-length']), bytes.length);
    assert.equal(r.headers['docker-content-digest'], digest);
    assert.equal(r.headers['etag'], `"${digest}"`);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.ok(r.body.equals(bytes));
  });

  test('GET with If-None-Match of its ETag: 304', async () => {
    const r = await get(blobUrl, { headers: { 'if-none-match': `"${digest}"` } });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
  });

  test('Range bytes=a-b: 206 with Content-Range and exactly those bytes', async () => {
    const r = await get(blobUrl, { headers: { range: 'bytes=100-199' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 100-199/${bytes.length}`);
    assert.equal(Number(r.headers['content-length']), 100);
    assert.ok(r.body.equals(bytes.subarray(100, 200)));
  });

  test('Range bytes=n- (open end) and bytes=-n (suffix)', async () => {
    const open = await get(blobUrl, { headers: { range: 'bytes=9990-' } });
    assert.equal(open.status, 206);
    assert.equal(open.headers['content-range'], `bytes 9990-9999/${bytes.length}`);
    assert.ok(open.body.equals(bytes.subarray(9990)));

    const suffix = await get(blobUrl, { headers: { range: 'bytes=-5' } });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.headers['content-range'], `bytes 9995-9999/${bytes.length}`);
    assert.ok(suffix.body.equals(bytes.subarray(9995)));

    // a suffix longer than the blob is the whole blob; an end past the size is clamped
    const big = await get(blobUrl, { headers: { range: 'bytes=-99999' } });
    assert.equal(big.status, 206);
    assert.equal(big.headers['content-range'], `bytes 0-9999/${bytes.length}`);
    assert.ok(big.body.equals(bytes));
    const clamped = await get(blobUrl, { headers: { range: 'bytes=9000-20000' } });
    assert.equal(clamped.status, 206);
    assert.equal(clamped.headers['content-range'], `bytes 9000-9999/${bytes.length}`);
    assert.equal(clamped.body.length, 1000);
  });

  test('unsatisfiable or malformed Range: 416 with Content-Range: bytes */size', async () => {
    for (const range of ['bytes=10000-', 'bytes=20000-30000', 'bytes=5-1', 'bytes=-0', 'bytes=-', 'items=0-1', 'bytes=0-1,5-6']) {
      const r = await get(blobUrl, { headers: { range } });
      assertError(r, 416, 'RANGE_INVALID', range);
      assert.equal(r.headers['content-range'], `bytes */${bytes.length}`, range);
    }
    await assertAlive(srv.url);
  });

  test('unknown blob: 404 BLOB_UNKNOWN on GET and HEAD (no body on HEAD)', async () => {
    const other = sha256(randomBlob(10));
    assertError(await get(`${srv.url}/v2/blobs/one/blobs/${other}`), 404, 'BLOB_UNKNOWN');
    const h = await head(`${srv.url}/v2/blobs/one/blobs/${other}`);
    assert.equal(h.status, 404);
    assert.equal(h.body.length, 0);
  });

  test('a blob is only served in the repository it was pushed to', async () => {
    assertError(await get(`${srv.url}/v2/blobs/other/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });

  test('malformed digest: 400 DIGEST_INVALID', async () => {
    for (const d of ['sha256:abc', 'sha256:' + 'G'.repeat(64), 'md5:' + 'a'.repeat(32), 'sha256:' + 'A'.repeat(64), 'nocolon', 'sha256:' + 'a'.repeat(65)]) {
      const r = await get(`${srv.url}/v2/blobs/one/blobs/${d}`);
      if (d === 'nocolon') {
        assert.ok(r.status === 400 || r.status === 404, d);
        assert.ok(['DIGEST_INVALID', 'BLOB_UNKNOWN'].includes(r.json<{ errors: Array<{ code: string }> }>().errors[0]!.code), d);
      } else {
        assertError(r, 400, 'DIGEST_INVALID', d);
      }
    }
    assertError(await del(`${srv.url}/v2/blobs/one/blobs/sha256:abc`), 400, 'DIGEST_INVALID');
    await assertAlive(srv.url);
  });

  test('DELETE: 202, then 404 BLOB_UNKNOWN; a second DELETE is 404', async () => {
    const b = randomBlob(100);
    const d = sha256(b);
    assert.equal((await pushBlob(srv.url, 'blobs/del', d, b)).status, 201);
    const url = `${srv.url}/v2/blobs/del/blobs/${d}`;
    assert.equal((await head(url)).status, 200);
    const r = await del(url);
    assert.equal(r.status, 202);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assertError(await get(url), 404, 'BLOB_UNKNOWN');
    assert.equal((await head(url)).status, 404);
    assertError(await del(url), 404, 'BLOB_UNKNOWN');
  });

  test('an empty blob works (size 0)', async () => {
    const empty = Buffer.alloc(0);
    const d = sha256(empty);
    assert.equal((await pushBlob(srv.url, 'blobs/one', d, empty)).status, 201);
    const r = await get(`${srv.url}/v2/blobs/one/blobs/${d}`);
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers['content-length']), 0);
    assert.equal(r.body.length, 0);
    const rr = await get(`${srv.url}/v2/blobs/one/blobs/${d}`, { headers: { range: 'bytes=0-' } });
    assertError(rr, 416, 'RANGE_INVALID');
  });
});
