/**
 * Clients that hang up: PATCH and PUT cut off mid-body, GET cut off mid-download. Each is counted
 * apart (wharf_http_client_aborts_total), logged once at info without a stack with the bytes it
 * moved, leaves every gauge exact and is not a storage error (the series operators alert on).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunks, get, patch, post, pushBlob, put, request } from '../fixtures/http.js';
import { MEDIA, ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { logLines, metricValue, type LogLine } from './ops-support.js';

const MiB = 1024 * 1024;
const N = 3;

describe('client aborts', () => {
  let srv: WharfServer;
  const metrics = async () => (await get(`${srv.url}/metrics`)).text();
  const sum = (text: string, name: string, labels: Record<string, string> = {}) => {
    const value = metricValue(text, name, labels);
    return Number.isNaN(value) ? 0 : value;
  };
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test(`${N} aborted PATCHes, blob PUTs, manifest PUTs and blob GETs: counted apart, gauges exact, no storage error`, async () => {
    // A blob larger than the socket buffers, so a download can be cut off before it is all sent.
    const big = randomBlob(32 * MiB);
    const bigDigest = sha256(big);
    assert.equal((await pushBlob(srv.url, 'aborts/app', bigDigest, big)).status, 201);
    const image = ociImage();
    const before = await metrics();
    const baseline = {
      inFlight: sum(before, 'wharf_http_requests_in_flight'),
      storageErrors: sum(before, 'wharf_storage_errors_total'),
    };
    const logStart = srv.logs().length;

    for (let i = 0; i < N; i++) {
      const start = await post(`${srv.url}/v2/aborts/app/blobs/uploads/`);
      const session = new URL(String(start.headers.location), srv.url).href;
      const body = randomBlob(4 * MiB);
      await assert.rejects(patch(session, { body: chunks(body), abortAfterBytes: MiB }), 'PATCH cut off');
      await assert.rejects(put(`${session}?digest=${sha256(body)}`, { body: chunks(body), abortAfterBytes: MiB }), 'blob PUT cut off');
      const manifest = Buffer.concat([image.manifest.bytes, Buffer.alloc(64 * 1024, 0x20)]);
      await assert.rejects(
        put(`${srv.url}/v2/aborts/app/manifests/v${i}`, { body: manifest, headers: { 'content-type': MEDIA.ociManifest }, abortAfterBytes: 1000 }),
        'manifest PUT cut off',
      );
      const download = await request('GET', `${srv.url}/v2/aborts/app/blobs/${bigDigest}`, { stream: true });
      assert.equal(download.status, 200);
      await new Promise<void>((resolve) => download.response.once('data', () => resolve()));
      download.response.destroy();
    }

    const expected = { upload: 2 * N, manifest: N, blob: N };
    let text = '';
    const abortLines = () => logLines(srv.logs().slice(logStart)).filter((l) => l.msg === 'request aborted').length;
    // The server learns of each hang-up on its own schedule, and its log line reaches this process
    // through a pipe, possibly after /metrics already counts it: wait until both have all of them.
    const deadline = Date.now() + 20_000;
    for (;;) {
      text = await metrics();
      const counted = Object.entries(expected).every(([route, n]) => sum(text, 'wharf_http_client_aborts_total', { route }) >= n);
      if ((counted && abortLines() >= 4 * N) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(sum(text, 'wharf_http_client_aborts_total', { route: 'upload', method: 'PATCH' }), N, 'aborted PATCHes');
    assert.equal(sum(text, 'wharf_http_client_aborts_total', { route: 'upload', method: 'PUT' }), N, 'aborted blob PUTs');
    assert.equal(sum(text, 'wharf_http_client_aborts_total', { route: 'manifest', method: 'PUT' }), N, 'aborted manifest PUTs');
    assert.equal(sum(text, 'wharf_http_client_aborts_total', { route: 'blob', method: 'GET' }), N, 'aborted downloads');
    assert.equal(sum(text, 'wharf_http_requests_in_flight'), baseline.inFlight, 'in-flight gauge back where it was (the scrape itself)');
    assert.equal(sum(text, 'wharf_storage_errors_total'), baseline.storageErrors, 'no storage error');

    const lines = logLines(srv.logs().slice(logStart));
    const aborted = lines.filter((l) => l.msg === 'request aborted');
    const of = (route: string, method: string) => aborted.filter((l) => l.route === route && l.method === method);
    for (const [route, method] of [['upload', 'PATCH'], ['upload', 'PUT'], ['manifest', 'PUT'], ['blob', 'GET']] as const) {
      const found = of(route, method);
      assert.equal(found.length, N, `${method} ${route}: one line per abort`);
      for (const line of found) {
        assert.equal(line.level, 'info', `${method} ${route}: at info`);
        assert.equal(typeof line.reqId, 'string');
        assert.equal(line.err, undefined, 'no error object, no stack');
        assert.ok(Number(line.bytesIn) > 0, `${method} ${route}: bytes received logged`);
      }
    }
    for (const line of of('upload', 'PATCH')) assert.ok(Number(line.bytesIn) >= MiB / 2, `PATCH bytesIn ${String(line.bytesIn)}`);
    for (const line of of('blob', 'GET')) assert.ok(Number(line.bytesOut) > 0, 'GET bytes sent logged');
    const loud = lines.filter((l: LogLine) => l.level === 'error' || l.level === 'fatal' || JSON.stringify(l).includes('"stack"'));
    assert.deepEqual(loud, [], 'nothing logged as an error, no stack');
    assert.equal(lines.filter((l) => l.msg === 'request aborted').length, 4 * N);
  });
});
