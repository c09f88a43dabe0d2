/**
 * Blob uploads: monolithic, sessions (streamed and chunked PATCH), status, finish, cancel,
 * mounts, Location values, client disconnects, a server restart mid-upload, concurrent pushes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chunks, del, get, head, patch, post, pushBlob, put, request, type Response } from '../fixtures/http.js';
import { randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf, storageKeys, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

const UUID = /^[0-9a-f-]{36}$/;

/** Bytes stored so far according to a session reply's `Range: 0-<last>` header. */
function rangeEnd(r: Response): number {
  const m = /^0-(\d+)$/.exec(String(r.headers['range']));
  assert.ok(m, `Range header: ${r.headers['range']}`);
  // `0-0` is also what an empty session answers (the spec's ranges are inclusive)
  return m[1] === '0' ? 0 : Number(m[1]) + 1;
}

/** Follows a Location header exactly as a client would (relative → against the server). */
function follow(srv: WharfServer, location: unknown, extraQuery = ''): string {
  assert.equal(typeof location, 'string', 'Location header present');
  const u = new URL(String(location), srv.url);
  return u.href + (extraQuery ? (u.search ? '&' : '?') + extraQuery : '');
}

async function startSession(srv: WharfServer, repo: string): Promise<Response> {
  const r = await post(`${srv.url}/v2/${repo}/blobs/uploads/`);
  assert.equal(r.status, 202, r.text());
  return r;
}

/** Upload session ids that still have data in the store (filesystem or s3: uploads/<id>/…). */
async function uploadDirs(srv: WharfServer): Promise<string[]> {
  return [...new Set((await storageKeys(srv, 'uploads/')).map((k) => k.split('/')[1]!))];
}

/** The store key of a verified blob. */
function blobKey(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
}

/** Whether the store holds `digest` as a blob (on any backend). */
async function blobStored(srv: WharfServer, digest: string): Promise<boolean> {
  return (await storageKeys(srv, blobKey(digest))).includes(blobKey(digest));
}

describe('uploads', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('POST ?digest= monolithic: 201 with Location and Docker-Content-Digest; the blob is readable', async () => {
    const bytes = randomBlob(5000);
    const digest = sha256(bytes);
    const r = await post(`${srv.url}/v2/up/mono/blobs/uploads/?digest=${digest}`, { body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 201, r.text());
    assert.equal(r.headers['docker-content-digest'], digest);
    assert.equal(r.headers['location'], `/v2/up/mono/blobs/${digest}`);
    const g = await get(follow(srv, r.headers['location']));
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(bytes));
  });

  test('POST ?digest= with a streamed (chunked) body', async () => {
    const bytes = randomBlob(300_000);
    const digest = sha256(bytes);
    const r = await post(`${srv.url}/v2/up/mono/blobs/uploads/?digest=${digest}`, { body: chunks(bytes) });
    assert.equal(r.status, 201, r.text());
    assert.equal((await head(`${srv.url}/v2/up/mono/blobs/${digest}`)).status, 200);
  });

  test('POST ?digest= with a wrong digest: DIGEST_INVALID and nothing stored', async () => {
    const bytes = randomBlob(4000);
    const claimed = sha256(randomBlob(10));
    const r = await post(`${srv.url}/v2/up/wrong/blobs/uploads/?digest=${claimed}`, { body: bytes });
    assertError(r, 400, 'DIGEST_INVALID');
    assert.equal((await head(`${srv.url}/v2/up/wrong/blobs/${claimed}`)).status, 404);
    assert.equal((await head(`${srv.url}/v2/up/wrong/blobs/${sha256(bytes)}`)).status, 404);
    assert.equal(await blobStored(srv, claimed), false);
    assert.equal(await blobStored(srv, sha256(bytes)), false);
    await assertAlive(srv.url);
  });

  test('POST ?digest= with a malformed digest: DIGEST_INVALID', async () => {
    assertError(await post(`${srv.url}/v2/up/wrong/blobs/uploads/?digest=sha256:1234`, { body: 'abc' }), 400, 'DIGEST_INVALID');
    await assertAlive(srv.url);
  });

  test('POST starts a session: 202, relative Location, Docker-Upload-UUID, Range 0-0', async () => {
    const r = await startSession(srv, 'up/session');
    const id = String(r.headers['docker-upload-uuid']);
    assert.match(id, UUID);
    assert.equal(r.headers['location'], `/v2/up/session/blobs/uploads/${id}`);
    assert.equal(r.headers['range'], '0-0');
    assert.equal(Number(r.headers['content-length']), 0);
    // the same with no trailing slash on the collection
    const r2 = await post(`${srv.url}/v2/up/session/blobs/uploads`);
    assert.equal(r2.status, 202);
  });

  test('one streamed PATCH (chunked) then an empty PUT ?digest= (what real clients do)', async () => {
    const bytes = randomBlob(1_500_000);
    const digest = sha256(bytes);
    const s = await startSession(srv, 'up/stream');
    const p = await patch(follow(srv, s.headers['location']), { body: chunks(bytes), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(p.status, 202, p.text());
    assert.equal(p.headers['range'], `0-${bytes.length - 1}`);
    assert.equal(p.headers['docker-upload-uuid'], s.headers['docker-upload-uuid']);
    assert.equal(Number(p.headers['content-length']), 0);
    // not visible as a blob until the PUT
    assert.equal((await head(`${srv.url}/v2/up/stream/blobs/${digest}`)).status, 404);
    const f = await put(follow(srv, p.headers['location'], `digest=${digest}`));
    assert.equal(f.status, 201, f.text());
    assert.equal(f.headers['docker-content-digest'], digest);
    assert.equal(f.headers['location'], `/v2/up/stream/blobs/${digest}`);
    const g = await get(follow(srv, f.headers['location']));
    assert.ok(g.body.equals(bytes));
    assert.equal((await uploadDirs(srv)).includes(String(s.headers['docker-upload-uuid'])), false);
    // a finished session is gone
    assertError(await get(follow(srv, p.headers['location'])), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(follow(srv, p.headers['location']), { body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('chunked PATCHes with Content-Range, GET status, out-of-order 416, PUT with a final chunk', async () => {
    const bytes = randomBlob(3000);
    const digest = sha256(bytes);
    const s = await startSession(srv, 'up/chunks');
    let loc = follow(srv, s.headers['location']);
    const c1 = await patch(loc, { body: bytes.subarray(0, 1000), headers: { 'content-range': '0-999', 'content-type': 'application/octet-stream' } });
    assert.equal(c1.status, 202, c1.text());
    assert.equal(c1.headers['range'], '0-999');
    loc = follow(srv, c1.headers['location']);

    const st = await get(loc);
    assert.equal(st.status, 204);
    assert.equal(st.headers['range'], '0-999');
    assert.equal(st.headers['docker-upload-uuid'], s.headers['docker-upload-uuid']);
    assert.equal(st.headers['location'], s.headers['location']);

    // a chunk that does not start where the upload ends: 416 with the Range to resume from
    const gap = await patch(loc, { body: bytes.subarray(1500, 2000), headers: { 'content-range': '1500-1999' } });
    assertError(gap, 416, 'BLOB_UPLOAD_INVALID');
    assert.equal(gap.headers['range'], '0-999');
    const overlap = await patch(loc, { body: bytes.subarray(500, 1000), headers: { 'content-range': '500-999' } });
    assertError(overlap, 416, 'BLOB_UPLOAD_INVALID');
    assert.equal(overlap.headers['range'], '0-999');
    // nothing of the refused chunks was stored
    assert.equal(rangeEnd(await get(loc)), 1000);

    const c2 = await patch(loc, { body: bytes.subarray(1000, 2000), headers: { 'content-range': '1000-1999' } });
    assert.equal(c2.status, 202, c2.text());
    assert.equal(c2.headers['range'], '0-1999');
    const f = await put(follow(srv, c2.headers['location'], `digest=${digest}`), { body: bytes.subarray(2000), headers: { 'content-range': '2000-2999', 'content-type': 'application/octet-stream' } });
    assert.equal(f.status, 201, f.text());
    assert.ok((await get(`${srv.url}/v2/up/chunks/blobs/${digest}`)).body.equals(bytes));
  });

  test('a malformed Content-Range is 416', async () => {
    const s = await startSession(srv, 'up/badrange');
    const r = await patch(follow(srv, s.headers['location']), { body: 'abc', headers: { 'content-range': 'zero-two' } });
    assert.equal(r.status, 416);
    assertError(r, 416, 'BLOB_UPLOAD_INVALID');
    await assertAlive(srv.url);
  });

  test('PUT ?digest= carrying the whole body on a fresh session', async () => {
    const bytes = randomBlob(2048);
    const digest = sha256(bytes);
    const s = await startSession(srv, 'up/putonly');
    const f = await put(follow(srv, s.headers['location'], `digest=${digest}`), { body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(f.status, 201, f.text());
    assert.ok((await get(`${srv.url}/v2/up/putonly/blobs/${digest}`)).body.equals(bytes));
  });

  test('PUT without ?digest=: 400 DIGEST_INVALID, the session survives', async () => {
    const bytes = randomBlob(100);
    const s = await startSession(srv, 'up/nodigest');
    const loc = follow(srv, s.headers['location']);
    assert.equal((await patch(loc, { body: bytes })).status, 202);
    assertError(await put(loc), 400, 'DIGEST_INVALID');
    const st = await get(loc);
    assert.equal(st.status, 204);
    assert.equal(rangeEnd(st), 100);
    assert.equal((await put(follow(srv, s.headers['location'], `digest=${sha256(bytes)}`))).status, 201);
  });

  test('PUT with a digest that does not match: DIGEST_INVALID, no blob, session gone', async () => {
    const bytes = randomBlob(100);
    const wrong = sha256(randomBlob(5));
    const s = await startSession(srv, 'up/mismatch');
    const loc = follow(srv, s.headers['location']);
    assert.equal((await patch(loc, { body: bytes })).status, 202);
    assertError(await put(follow(srv, s.headers['location'], `digest=${wrong}`)), 400, 'DIGEST_INVALID');
    assert.equal((await head(`${srv.url}/v2/up/mismatch/blobs/${wrong}`)).status, 404);
    assert.equal((await head(`${srv.url}/v2/up/mismatch/blobs/${sha256(bytes)}`)).status, 404);
    assert.equal(await blobStored(srv, wrong), false);
    assertError(await get(loc), 404, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await uploadDirs(srv)).includes(String(s.headers['docker-upload-uuid'])), false);
  });

  test('DELETE a session: 204, then BLOB_UPLOAD_UNKNOWN everywhere; its bytes are gone', async () => {
    const s = await startSession(srv, 'up/cancel');
    const loc = follow(srv, s.headers['location']);
    assert.equal((await patch(loc, { body: randomBlob(500) })).status, 202);
    const d = await del(loc);
    assert.equal(d.status, 204);
    assertError(await get(loc), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(loc, { body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await put(follow(srv, s.headers['location'], `digest=${sha256('x')}`)), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await del(loc), 404, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await uploadDirs(srv)).includes(String(s.headers['docker-upload-uuid'])), false);
  });

  test('an unknown session id is BLOB_UPLOAD_UNKNOWN for every method', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-uuid', 'abc%2Fdef']) {
      const loc = `${srv.url}/v2/up/unknown/blobs/uploads/${id}`;
      assertError(await get(loc), 404, 'BLOB_UPLOAD_UNKNOWN', `GET ${id}`);
      assertError(await patch(loc, { body: 'abc' }), 404, 'BLOB_UPLOAD_UNKNOWN', `PATCH ${id}`);
      assertError(await put(`${loc}?digest=${sha256('abc')}`, { body: 'abc' }), 404, 'BLOB_UPLOAD_UNKNOWN', `PUT ${id}`);
      assertError(await del(loc), 404, 'BLOB_UPLOAD_UNKNOWN', `DELETE ${id}`);
    }
    await assertAlive(srv.url);
  });

  test('a session used from another repository is BLOB_UPLOAD_UNKNOWN', async () => {
    const bytes = randomBlob(64);
    const s = await startSession(srv, 'up/owner');
    const id = String(s.headers['docker-upload-uuid']);
    const foreign = `${srv.url}/v2/up/thief/blobs/uploads/${id}`;
    assertError(await get(foreign), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(foreign, { body: bytes }), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await put(`${foreign}?digest=${sha256(bytes)}`, { body: bytes }), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await del(foreign), 404, 'BLOB_UPLOAD_UNKNOWN');
    // the owner's session is untouched
    const st = await get(follow(srv, s.headers['location']));
    assert.equal(st.status, 204);
    assert.equal(st.headers['range'], '0-0');
    assert.equal((await head(`${srv.url}/v2/up/thief/blobs/${sha256(bytes)}`)).status, 404);
  });

  test('mount ?mount=&from=: 201 with Location and Docker-Content-Digest, no session', async () => {
    const bytes = randomBlob(777);
    const digest = sha256(bytes);
    assert.equal((await pushBlob(srv.url, 'up/mount-src', digest, bytes)).status, 201);
    const before = await uploadDirs(srv);
    const r = await post(`${srv.url}/v2/up/mount-dst/blobs/uploads/?mount=${digest}&from=up/mount-src`);
    assert.equal(r.status, 201, r.text());
    assert.equal(r.headers['docker-content-digest'], digest);
    assert.equal(r.headers['location'], `/v2/up/mount-dst/blobs/${digest}`);
    assert.equal(r.headers['docker-upload-uuid'], undefined);
    assert.deepEqual((await uploadDirs(srv)).sort(), before.sort());
    const g = await get(follow(srv, r.headers['location']));
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(bytes));
  });

  test('mount from a repository that lacks the blob (or without from): 202 session instead', async () => {
    const bytes = randomBlob(50);
    const digest = sha256(bytes);
    for (const q of [`mount=${digest}&from=up/empty-src`, `mount=${digest}`, `mount=${digest}&from=up/mount-dst2`]) {
      const r = await post(`${srv.url}/v2/up/mount-dst2/blobs/uploads/?${q}`);
      assert.equal(r.status, 202, `${q}: ${r.text()}`);
      assert.match(String(r.headers['docker-upload-uuid']), UUID);
      // the session works: finish it with the bytes
      const f = await put(follow(srv, r.headers['location'], `digest=${digest}`), { body: bytes });
      assert.equal(f.status, 201, f.text());
    }
  });

  test('mount with a malformed digest: DIGEST_INVALID', async () => {
    assertError(await post(`${srv.url}/v2/up/m/blobs/uploads/?mount=sha256:zz&from=up/mount-src`), 400, 'DIGEST_INVALID');
  });

  test('client disconnects mid-PATCH: server stays up, session resumes, nothing half-written is a blob', async () => {
    const bytes = randomBlob(4 * 1024 * 1024);
    const digest = sha256(bytes);
    const s = await startSession(srv, 'up/abort');
    const loc = follow(srv, s.headers['location']);
    await assert.rejects(patch(loc, { body: chunks(bytes), abortAfterBytes: 1024 * 1024 }));
    await assertAlive(srv.url);
    assert.equal((await head(`${srv.url}/v2/up/abort/blobs/${digest}`)).status, 404);

    // resume like a careful client: ask where the upload stands, then send one byte from there
    // (a 416 names the real offset if the aborted PATCH was still being wound up), then the rest
    let offset = rangeEnd(await get(loc));
    assert.ok(offset < bytes.length, `stored ${offset} of ${bytes.length}`);
    for (let attempt = 0; ; attempt++) {
      assert.ok(attempt < 5, 'resume converges');
      const r = await patch(loc, { body: bytes.subarray(offset, offset + 1), headers: { 'content-range': `${offset}-${offset}` } });
      if (r.status === 416) {
        // `Range: 0-0` means 0 or 1 byte stored; a refused PATCH at 0 means 1
        offset = offset === 0 && rangeEnd(r) === 0 ? 1 : rangeEnd(r);
        continue;
      }
      assert.equal(r.status, 202, r.text());
      offset += 1;
      break;
    }
    const rest = await patch(loc, { body: chunks(bytes.subarray(offset)), headers: { 'content-range': `${offset}-${bytes.length - 1}`, 'content-type': 'application/octet-stream' } });
    assert.equal(rest.status, 202, rest.text());
    assert.equal(rangeEnd(rest), bytes.length);
    assert.equal((await head(`${srv.url}/v2/up/abort/blobs/${digest}`)).status, 404);
    const f = await put(follow(srv, s.headers['location'], `digest=${digest}`));
    assert.equal(f.status, 201, f.text());
    const g = await get(`${srv.url}/v2/up/abort/blobs/${digest}`);
    assert.equal(sha256(g.body), digest);
  });

  test('client disconnects mid-monolithic POST ?digest=: no blob, no session left behind', async () => {
    const bytes = randomBlob(2 * 1024 * 1024);
    const digest = sha256(bytes);
    const before = await uploadDirs(srv);
    await assert.rejects(post(`${srv.url}/v2/up/abort-mono/blobs/uploads/?digest=${digest}`, { body: chunks(bytes), abortAfterBytes: 512 * 1024 }));
    await assertAlive(srv.url);
    assert.equal((await head(`${srv.url}/v2/up/abort-mono/blobs/${digest}`)).status, 404);
    assert.equal(await blobStored(srv, digest), false);
    // the aborted monolithic upload cleans its temporary session (poll: cleanup follows the abort)
    for (let i = 0; i < 100; i++) {
      const now = await uploadDirs(srv);
      if (now.every((d) => before.includes(d))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail('temporary session of the aborted POST was not cleaned up');
  });

  test('two clients pushing the same blob at once both succeed; one blob', async () => {
    const bytes = randomBlob(2 * 1024 * 1024);
    const digest = sha256(bytes);
    const results = await Promise.all([
      pushBlob(srv.url, 'up/race', digest, bytes),
      pushBlob(srv.url, 'up/race', digest, bytes),
      pushBlob(srv.url, 'up/race-other', digest, bytes),
      post(`${srv.url}/v2/up/race/blobs/uploads/?digest=${digest}`, { body: bytes }),
    ]);
    for (const r of results) {
      assert.equal(r.status, 201, r.text());
      assert.equal(r.headers['docker-content-digest'], digest);
    }
    for (const repo of ['up/race', 'up/race-other']) {
      const g = await get(`${srv.url}/v2/${repo}/blobs/${digest}`);
      assert.equal(sha256(g.body), digest);
    }
    const key = blobKey(digest);
    assert.deepEqual((await storageKeys(srv, path.posix.dirname(key) + '/')).filter((k) => k.startsWith(key)), [key]);
  });

  test('Location of every upload reply can be followed verbatim (PATCH → PATCH → PUT)', async () => {
    const bytes = randomBlob(900);
    const digest = sha256(bytes);
    let loc: unknown = (await startSession(srv, 'up/verbatim/deep/name')).headers['location'];
    for (let i = 0; i < 3; i++) {
      const r = await request('PATCH', follow(srv, loc), { body: bytes.subarray(i * 300, i * 300 + 300), headers: { 'content-range': `${i * 300}-${i * 300 + 299}` } });
      assert.equal(r.status, 202, r.text());
      assert.ok(String(r.headers['location']).startsWith('/v2/up/verbatim/deep/name/blobs/uploads/'));
      loc = r.headers['location'];
    }
    const f = await put(follow(srv, loc, `digest=${digest}`));
    assert.equal(f.status, 201, f.text());
  });
});

describe('uploads with http.publicUrl', () => {
  test('Location values are absolute on the public URL, and work once mapped to the server', async (t) => {
    const publicUrl = 'https://registry.example.test:8443';
    const srv = await startWharf({ config: { http: { publicUrl } } });
    t.after(() => srv.stop());
    const toServer = (loc: unknown) => {
      const s = String(loc);
      assert.ok(s.startsWith(`${publicUrl}/v2/`), `absolute Location: ${s}`);
      return srv.url + s.slice(publicUrl.length);
    };
    const bytes = randomBlob(100);
    const digest = sha256(bytes);
    const s = await post(`${srv.url}/v2/pub/x/blobs/uploads/`);
    assert.equal(s.status, 202);
    const p = await patch(toServer(s.headers['location']), { body: bytes });
    assert.equal(p.status, 202);
    const f = await put(toServer(p.headers['location']) + `?digest=${digest}`);
    assert.equal(f.status, 201);
    assert.equal(f.headers['location'], `${publicUrl}/v2/pub/x/blobs/${digest}`);
    const m = await post(`${srv.url}/v2/pub/y/blobs/uploads/?mount=${digest}&from=pub/x`);
    assert.equal(m.status, 201);
    assert.equal(m.headers['location'], `${publicUrl}/v2/pub/y/blobs/${digest}`);
    assert.equal((await get(toServer(m.headers['location']))).status, 200);
  });
});

describe('uploads across a server restart', () => {
  test('PATCH half, SIGTERM, new server on the same data, PATCH the rest, PUT ?digest= verifies', async (t) => {
    const root = await makeTempDir('wharf-restart-');
    t.after(() => removeDir(root));
    const dataDir = path.join(root, 'data');
    const bytes = randomBlob(3 * 1024 * 1024 + 17);
    const digest = sha256(bytes);
    const half = 1536 * 1024;

    const first = await startWharf({ dataDir });
    let loc: string;
    try {
      const s = await post(`${first.url}/v2/restart/x/blobs/uploads/`);
      assert.equal(s.status, 202);
      loc = String(s.headers['location']);
      const p = await patch(`${first.url}${loc}`, { body: chunks(bytes.subarray(0, half)) });
      assert.equal(p.status, 202, p.text());
      assert.equal(rangeEnd(p), half);
    } finally {
      const exit = await first.stop('SIGTERM');
      assert.equal(exit.code, 0, 'clean shutdown on SIGTERM');
    }

    const second = await startWharf({ dataDir });
    t.after(() => second.stop());
    const st = await get(`${second.url}${loc}`);
    assert.equal(st.status, 204, st.text());
    assert.equal(rangeEnd(st), half);
    const p2 = await patch(`${second.url}${loc}`, { body: chunks(bytes.subarray(half)), headers: { 'content-range': `${half}-${bytes.length - 1}` } });
    assert.equal(p2.status, 202, p2.text());
    const f = await put(`${second.url}${String(p2.headers['location'])}?digest=${digest}`);
    assert.equal(f.status, 201, f.text());
    const g = await get(`${second.url}/v2/restart/x/blobs/${digest}`);
    assert.equal(g.body.length, bytes.length);
    assert.equal(sha256(g.body), digest);
    // and a wrong digest after a restart is still caught by the re-hash
    const s2 = await post(`${second.url}/v2/restart/x/blobs/uploads/`);
    assert.equal((await patch(`${second.url}${String(s2.headers['location'])}`, { body: bytes.subarray(0, 1000) })).status, 202);
    assertError(await put(`${second.url}${String(s2.headers['location'])}?digest=${digest}`), 400, 'DIGEST_INVALID');
  });
});
