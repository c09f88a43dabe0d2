/**
 * `http.workers: 2`: two processes share the port, upload sessions move between them (the
 * digest is rebuilt from storage), /metrics adds up both, a crashed worker is replaced, and
 * SIGTERM stops the cluster cleanly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, patch, post, pushImage, put } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { accessLines, eventually, logLines, metricValue } from '../api/ops-support.js';

const SESSIONS = 12;
// A new connection per request: the primary hands connections to workers in turn.
const fresh = { connection: 'close' };

describe('cluster of two workers', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf({ config: { http: { workers: 2 } } });
    // GET /v2/ answers as soon as one worker listens; wait for both.
    await eventually(() => srv.logs().includes('all workers listening'), 30_000, 'both workers');
  });
  after(async () => {
    const exit = await srv.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM stops the whole cluster with exit 0');
  });

  test('push and pull work; requests are served by two distinct worker processes', async () => {
    const image = ociImage({ layers: [randomBlob(300_000), randomBlob(5000)] });
    await pushImage(srv.url, 'cluster/app', 'v1', image, { headers: fresh });
    const manifest = await get(`${srv.url}/v2/cluster/app/manifests/v1`, { headers: { ...fresh, accept: image.manifest.mediaType } });
    assert.equal(manifest.status, 200);
    assert.equal(sha256(manifest.body), image.manifest.digest);
    for (const [digest] of image.blobs) {
      const blob = await get(`${srv.url}/v2/cluster/app/blobs/${digest}`, { headers: fresh });
      assert.equal(sha256(blob.body), digest);
    }
    await eventually(() => new Set(accessLines(srv.logs()).map((l) => l.pid)).size >= 2, 5000, 'two pids in the access log');
  });

  test('upload sessions continue across workers: PATCH on one, PUT on the other', async () => {
    const blobs = Array.from({ length: SESSIONS }, (_, i) => randomBlob(100_000 + i));
    const ids: string[] = [];
    await Promise.all(
      blobs.map(async (blob) => {
        const start = await post(`${srv.url}/v2/cluster/sessions/blobs/uploads/`, { headers: fresh });
        assert.equal(start.status, 202);
        ids.push(String(start.headers['docker-upload-uuid']));
        // Two chunks, so the bytes of one session may even arrive at two processes.
        const half = blob.length >> 1;
        let location = new URL(String(start.headers.location), srv.url);
        for (const [from, to] of [[0, half], [half, blob.length]] as const) {
          const r = await patch(location, {
            headers: { ...fresh, 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` },
            body: blob.subarray(from, to),
          });
          assert.equal(r.status, 202, r.text());
          location = new URL(String(r.headers.location), srv.url);
        }
        location.searchParams.set('digest', sha256(blob));
        const done = await put(location, { headers: fresh });
        assert.equal(done.status, 201, done.text());
      }),
    );
    for (const blob of blobs) {
      const pulled = await get(`${srv.url}/v2/cluster/sessions/blobs/${sha256(blob)}`, { headers: fresh });
      assert.equal(sha256(pulled.body), sha256(blob), 'every blob verifies');
    }
    // Which process served each step of each session, from the access log's pid field.
    await eventually(() => accessLines(srv.logs()).filter((l) => l.method === 'PUT' && l.route === 'upload').length >= SESSIONS, 5000, 'PUT lines');
    const lines = accessLines(srv.logs());
    let crossed = 0;
    for (const id of ids) {
      const pids = new Set(lines.filter((l) => String(l.path).endsWith(`/uploads/${id}`)).map((l) => l.pid));
      if (pids.size > 1) crossed++;
    }
    assert.ok(crossed >= 1, `at least one session moved between workers (${crossed} of ${SESSIONS})`);
  });

  test('/metrics adds up every worker', async () => {
    const lines = accessLines(srv.logs()).filter((l) => l.method === 'PUT' && l.route === 'upload' && l.status === 201);
    const text = (await get(`${srv.url}/metrics`, { headers: fresh })).text();
    assert.equal(metricValue(text, 'wharf_http_requests_total', { route: 'upload', method: 'PUT', status: '201' }), lines.length);
    assert.equal(metricValue(text, 'wharf_blobs'), SESSIONS + 4, 'the database count, not twice it');
  });

  test('a worker that dies is replaced', async () => {
    const pids = new Set(accessLines(srv.logs()).map((l) => l.pid));
    const victim = [...pids][0]!;
    process.kill(victim, 'SIGKILL');
    await eventually(() => logLines(srv.logs()).some((l) => l.msg === 'worker died, restarting'), 10_000, 'restart notice');
    await eventually(
      () => logLines(srv.logs()).filter((l) => l.msg === 'wharf listening' && !pids.has(l.pid)).length >= 1,
      20_000,
      'a new worker listening',
    );
    for (let i = 0; i < 4; i++) assert.equal((await get(`${srv.url}/v2/`, { headers: fresh })).status, 200);
  });
});
