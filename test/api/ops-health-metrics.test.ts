/**
 * /healthz, /readyz and the Prometheus endpoint: values move with the traffic they count.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, patch, post, pushBlob, pushImage } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { accessLines, metricValue } from './ops-support.js';

const MiB = 1024 * 1024;

describe('health and metrics', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('GET /healthz answers 200 without credentials', async () => {
    const r = await get(`${srv.url}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { status: 'ok' });
    assert.equal(r.headers['cache-control'], 'no-store');
  });

  test('GET /readyz reports each dependency', async () => {
    const r = await get(`${srv.url}/readyz`);
    assert.equal(r.status, 200, r.text());
    const body = r.json<{ status: string; checks: Record<string, { ok: boolean; durationMs: number }>; failing: string[] }>();
    assert.equal(body.status, 'ok');
    assert.deepEqual(Object.keys(body.checks).sort(), ['database', 'storage']);
    assert.ok(body.checks.storage!.ok && body.checks.database!.ok);
    assert.deepEqual(body.failing, []);
  });

  test('metrics count requests by route kind, bytes in and out, stored objects and open uploads', async () => {
    const layer = randomBlob(MiB);
    const image = ociImage({ layers: [layer] });
    await pushImage(srv.url, 'ops/metrics', 'v1', image);
    const open = await post(`${srv.url}/v2/ops/metrics/blobs/uploads/`);
    assert.equal(open.status, 202);
    const pulled = await get(`${srv.url}/v2/ops/metrics/blobs/${sha256(layer)}`);
    assert.equal(pulled.status, 200);
    await get(`${srv.url}/v2/ops/metrics/manifests/nope`);

    const first = await get(`${srv.url}/metrics`);
    assert.equal(first.status, 200);
    assert.match(String(first.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const m = first.text();
    assert.equal(metricValue(m, 'wharf_http_requests_total', { route: 'manifest', method: 'PUT', status: '201' }), 1);
    assert.equal(metricValue(m, 'wharf_http_requests_total', { route: 'upload', method: 'PATCH', status: '202' }), 2);
    assert.equal(metricValue(m, 'wharf_http_requests_total', { route: 'blob', method: 'GET', status: '200' }), 1);
    assert.equal(metricValue(m, 'wharf_http_requests_total', { route: 'manifest', method: 'GET', status: '404' }), 1);
    // Never the raw path as a label: one repository name must not appear in any series.
    assert.doesNotMatch(m, /ops\/metrics/);
    assert.ok(metricValue(m, 'wharf_http_request_bytes_total', { route: 'upload' }) >= MiB, 'upload body bytes counted');
    assert.ok(metricValue(m, 'wharf_http_response_bytes_total', { route: 'blob' }) >= MiB, 'blob download bytes counted');
    assert.equal(metricValue(m, 'wharf_http_request_duration_seconds_count', { route: 'blob', method: 'GET' }), 1);
    assert.equal(metricValue(m, 'wharf_blobs'), 3, 'config, layer and the manifest (stored as a blob too)');
    assert.equal(metricValue(m, 'wharf_manifests'), 1);
    assert.equal(metricValue(m, 'wharf_upload_sessions_open'), 1);
    assert.ok(metricValue(m, 'wharf_process_cpu_user_seconds_total') > 0, 'process metrics');
    assert.ok(metricValue(m, 'wharf_nodejs_eventloop_lag_seconds') >= 0, 'event loop metrics');
    assert.equal(metricValue(m, 'wharf_storage_errors_total'), Number.NaN, 'no storage error yet');

    const blob = randomBlob(4096);
    assert.equal((await pushBlob(srv.url, 'ops/metrics', sha256(blob), blob)).status, 201);
    const second = (await get(`${srv.url}/metrics`)).text();
    assert.equal(metricValue(second, 'wharf_http_requests_total', { route: 'upload', method: 'PATCH', status: '202' }), 3);
    assert.equal(metricValue(second, 'wharf_http_requests_total', { route: '/metrics', method: 'GET', status: '200' }), 1);
  });

  test('the access log carries route kind, repository, bytes and the request id', async () => {
    const blob = randomBlob(200_000);
    const start = await post(`${srv.url}/v2/ops/log/blobs/uploads/`);
    const r = await patch(new URL(String(start.headers.location), srv.url), {
      headers: { 'content-type': 'application/octet-stream', 'x-request-id': 'ops-log-patch-1' },
      body: blob,
    });
    assert.equal(r.status, 202);
    assert.equal(r.headers['x-request-id'], 'ops-log-patch-1', 'an incoming sane id is echoed');
    let line;
    for (let i = 0; i < 100 && !line; i++) {
      line = accessLines(srv.logs()).find((l) => l.reqId === 'ops-log-patch-1');
      if (!line) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(line, 'access line for the request');
    assert.equal(line.method, 'PATCH');
    assert.equal(line.route, 'upload');
    assert.equal(line.repository, 'ops/log');
    assert.equal(line.status, 202);
    assert.ok(Number(line.bytesIn) >= blob.length && Number(line.bytesIn) < blob.length + 1024, `bytesIn ${line.bytesIn}`);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.level, 'info');
    assert.equal(typeof line.pid, 'number');
  });

  test('/readyz answers 503 naming storage when the store fails, and storage errors are counted', async (t) => {
    if ((process.env.WHARF_TEST_STORAGE ?? 'filesystem') !== 'filesystem') return t.skip('breaks the filesystem store');
    // The filesystem driver's check creates a probe in <root>/tmp: make that a file.
    const tmp = path.join(srv.dataDir, 'storage', 'tmp');
    await rm(tmp, { recursive: true, force: true });
    await writeFile(tmp, 'not a directory');
    try {
      const r = await get(`${srv.url}/readyz`);
      assert.equal(r.status, 503, r.text());
      const body = r.json<{ status: string; checks: Record<string, { ok: boolean; error?: string }>; failing: string[] }>();
      assert.deepEqual(body.failing, ['storage']);
      assert.equal(body.checks.storage!.ok, false);
      assert.equal(typeof body.checks.storage!.error, 'string');
      assert.equal(body.checks.database!.ok, true);
      assert.equal((await get(`${srv.url}/healthz`)).status, 200, 'alive though not ready');
      const m = (await get(`${srv.url}/metrics`)).text();
      assert.ok(metricValue(m, 'wharf_storage_errors_total', { driver: 'filesystem', operation: 'check' }) >= 1);
    } finally {
      await rm(tmp, { force: true });
    }
    assert.equal((await get(`${srv.url}/readyz`)).status, 200, 'ready again once the store works');
  });
});

describe('metrics settings and log level', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf({ config: { metrics: { path: '/internal/prometheus' }, log: { level: 'warn' } } });
  });
  after(() => srv.stop());

  test('metrics.path moves the endpoint; log.level warn drops access lines', async () => {
    assert.equal((await get(`${srv.url}/internal/prometheus`)).status, 200);
    assert.equal((await get(`${srv.url}/metrics`)).status, 404);
    assert.equal((await get(`${srv.url}/v2/`)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(accessLines(srv.logs()).length, 0, srv.logs().slice(0, 2000));
  });
});

describe('metrics disabled', () => {
  test('metrics.enabled false: no endpoint', async (t) => {
    const srv = await startWharf({ config: { metrics: { enabled: false } } });
    t.after(() => srv.stop());
    assert.equal((await get(`${srv.url}/metrics`)).status, 404);
    assert.equal((await get(`${srv.url}/healthz`)).status, 200);
  });
});
