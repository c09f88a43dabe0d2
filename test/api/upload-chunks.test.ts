/**
 * Chunk bookkeeping of upload sessions: a chunk whose body length differs from its Content-Range
 * is refused whole (SIZE_INVALID) and leaves nothing behind, on the filesystem and on S3 (the s3
 * pass re-runs this file), so the client's retry of the right chunk goes through; and every upload
 * error names where the session stands (Range, Docker-Upload-UUID, Location).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunks, get, patch, post, put, type Response } from '../fixtures/http.js';
import { randomBlob, sha256 } from '../fixtures/images.js';
import { startWharf, storageKeys, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

const MiB = 1024 * 1024;

/** A new session's upload URL and id. */
async function session(srv: WharfServer, repo: string): Promise<{ url: string; id: string }> {
  const r = await post(`${srv.url}/v2/${repo}/blobs/uploads/`);
  assert.equal(r.status, 202, r.text());
  return { url: new URL(String(r.headers.location), srv.url).href, id: String(r.headers['docker-upload-uuid']) };
}

/** Asserts an upload error tells where the session stands: `Range: 0-<held-1>`, its id and URL. */
function assertSessionHeaders(res: Response, id: string, held: number, what: string): void {
  assert.equal(res.headers['range'], held > 0 ? `0-${held - 1}` : '0-0', `${what}: Range`);
  assert.equal(res.headers['docker-upload-uuid'], id, `${what}: Docker-Upload-UUID`);
  assert.match(String(res.headers['location']), new RegExp(`/blobs/uploads/${id}$`), `${what}: Location`);
}

/** Bytes the session holds, from its status reply. */
async function held(url: string): Promise<string> {
  const st = await get(url);
  assert.equal(st.status, 204, st.text());
  return String(st.headers['range']);
}

/** The upload's keys in the store other than its data file or state object. */
async function strayParts(srv: WharfServer, id: string): Promise<string[]> {
  return (await storageKeys(srv, `uploads/${id}/`)).filter((key) => /\/part-/.test(key));
}

describe('upload chunks whose length differs from their Content-Range', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('a longer body (Content-Length says so) is SIZE_INVALID with the session headers; the retry succeeds', async () => {
    const bytes = randomBlob(3000);
    const digest = sha256(bytes);
    const { url, id } = await session(srv, 'chunks/longer');
    assert.equal((await patch(url, { body: bytes.subarray(0, 1000), headers: { 'content-range': '0-999' } })).status, 202);

    const bad = await patch(url, { body: bytes.subarray(1000, 3000), headers: { 'content-range': '1000-1999' } });
    assertError(bad, 400, 'SIZE_INVALID');
    assertSessionHeaders(bad, id, 1000, 'refused chunk');
    assert.equal(await held(url), '0-999', 'nothing of the refused chunk was stored');

    // The client's retry of the same chunk, as it meant it.
    const retry = await patch(url, { body: bytes.subarray(1000, 2000), headers: { 'content-range': '1000-1999' } });
    assert.equal(retry.status, 202, retry.text());
    assert.equal(retry.headers['range'], '0-1999');
    const done = await put(`${url}?digest=${digest}`, { body: bytes.subarray(2000), headers: { 'content-range': '2000-2999' } });
    assert.equal(done.status, 201, done.text());
    assert.equal(sha256((await get(`${srv.url}/v2/chunks/longer/blobs/${digest}`)).body), digest);
  });

  test('a streamed body longer than announced is cut off as it arrives and stores nothing', async () => {
    // Past one S3 part (16 MiB) before the excess shows: the part already written must go again.
    const bytes = randomBlob(20 * MiB);
    const digest = sha256(bytes);
    const { url, id } = await session(srv, 'chunks/streamed-longer');
    assert.equal((await patch(url, { body: bytes.subarray(0, 1000), headers: { 'content-range': '0-999' } })).status, 202);

    const end = 1000 + 17 * MiB - 1;
    const bad = await patch(url, { body: chunks(bytes.subarray(1000, 1000 + 19 * MiB)), headers: { 'content-range': `1000-${end}` } });
    assertError(bad, 400, 'SIZE_INVALID');
    assertSessionHeaders(bad, id, 1000, 'cut-off chunk');
    assert.equal(await held(url), '0-999');
    assert.deepEqual(await strayParts(srv, id), [], 'no part of the refused chunk is left in the store');

    const retry = await patch(url, { body: chunks(bytes.subarray(1000)), headers: { 'content-range': `1000-${bytes.length - 1}` } });
    assert.equal(retry.status, 202, retry.text());
    assert.equal((await put(`${url}?digest=${digest}`)).status, 201);
    assert.equal(sha256((await get(`${srv.url}/v2/chunks/streamed-longer/blobs/${digest}`)).body), digest);
    await assertAlive(srv.url);
  });

  test('a streamed body shorter than announced is refused at its end and stores nothing', async () => {
    const bytes = randomBlob(18 * MiB);
    const digest = sha256(bytes);
    const { url, id } = await session(srv, 'chunks/streamed-shorter');
    const bad = await patch(url, { body: chunks(bytes.subarray(0, 17 * MiB)), headers: { 'content-range': `0-${bytes.length - 1}` } });
    assertError(bad, 400, 'SIZE_INVALID');
    assertSessionHeaders(bad, id, 0, 'short chunk');
    assert.equal(await held(url), '0-0');
    assert.deepEqual(await strayParts(srv, id), []);

    const retry = await patch(url, { body: chunks(bytes), headers: { 'content-range': `0-${bytes.length - 1}` } });
    assert.equal(retry.status, 202, retry.text());
    assert.equal((await put(`${url}?digest=${digest}`)).status, 201);
    assert.equal(sha256((await get(`${srv.url}/v2/chunks/streamed-shorter/blobs/${digest}`)).body), digest);
  });

  test('a final PUT chunk of the wrong length is refused and the session survives', async () => {
    const bytes = randomBlob(2000);
    const digest = sha256(bytes);
    const { url, id } = await session(srv, 'chunks/put');
    assert.equal((await patch(url, { body: bytes.subarray(0, 1000), headers: { 'content-range': '0-999' } })).status, 202);
    const bad = await put(`${url}?digest=${digest}`, { body: bytes.subarray(1000, 1500), headers: { 'content-range': '1000-1999' } });
    assertError(bad, 400, 'SIZE_INVALID');
    assertSessionHeaders(bad, id, 1000, 'short final chunk');
    const done = await put(`${url}?digest=${digest}`, { body: bytes.subarray(1000), headers: { 'content-range': '1000-1999' } });
    assert.equal(done.status, 201, done.text());
  });
});

describe('upload errors name where the session stands', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('malformed Content-Range, out-of-order chunk, PUT without a digest: Range, Docker-Upload-UUID, Location', async () => {
    const { url, id } = await session(srv, 'chunks/headers');
    assert.equal((await patch(url, { body: randomBlob(10), headers: { 'content-range': '0-9' } })).status, 202);
    const cases: Array<[string, () => Promise<Response>, number, string]> = [
      ['malformed Content-Range', () => patch(url, { body: 'abc', headers: { 'content-range': 'zero-two' } }), 416, 'BLOB_UPLOAD_INVALID'],
      ['out of order', () => patch(url, { body: 'abc', headers: { 'content-range': '20-22' } }), 416, 'BLOB_UPLOAD_INVALID'],
      ['end before start', () => patch(url, { body: 'abc', headers: { 'content-range': '10-8' } }), 416, 'BLOB_UPLOAD_INVALID'],
      ['PUT without digest', () => put(url), 400, 'DIGEST_INVALID'],
      ['PUT with a malformed digest', () => put(`${url}?digest=sha256:nope`), 400, 'DIGEST_INVALID'],
    ];
    for (const [what, send, status, code] of cases) {
      const res = await send();
      assertError(res, status, code, what);
      assertSessionHeaders(res, id, 10, what);
    }
    assert.equal(await held(url), '0-9');
  });
});
