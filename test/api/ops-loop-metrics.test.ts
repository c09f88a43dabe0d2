/**
 * Event-loop delay and synchronous SQLite time in /metrics: a loop blocked for 300 ms shows in the
 * cumulative histogram and in the window gauge (reset by the scrape), and a server's manifest
 * reads show as SQLite read time and statements.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/lib/metrics.js';
import { get, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { metricValue } from './ops-support.js';

const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a blocked event loop shows in the delay histogram and the window gauge', async () => {
  const metrics = createMetrics();
  try {
    await tick(100);
    await metrics.render(); // start a fresh window
    block(300);
    await tick(100);
    const text = (await metrics.render()).body;
    const count = metricValue(text, 'wharf_event_loop_delay_seconds_count');
    assert.ok(count >= 1, text);
    assert.ok(metricValue(text, 'wharf_event_loop_delay_seconds_bucket', { le: '0.2' }) < count, 'one sample later than 200 ms');
    const max = metricValue(text, 'wharf_event_loop_delay_window_seconds', { quantile: '1' });
    assert.ok(max >= 0.25, 'the window maximum');
    assert.ok(metricValue(text, 'wharf_event_loop_delay_seconds_sum') >= 0.25);
    // The scrape reset the window; the histogram keeps counting.
    await tick(100);
    const next = (await metrics.render()).body;
    assert.notEqual(metricValue(next, 'wharf_event_loop_delay_window_seconds', { quantile: '1' }), max, 'a new window, without the block');
    assert.ok(metricValue(next, 'wharf_event_loop_delay_seconds_count') > count);
  } finally {
    metrics.stop();
  }
});

// SQLite's synchronous time only: the PostgreSQL + S3 pass has no SQLite connection to measure.
const sqliteOnly = process.env.WHARF_TEST_DATABASE === 'postgres' ? 'SQLite metrics (this pass runs on PostgreSQL)' : false;

test('/metrics reports the SQLite time and statements of manifest reads', { skip: sqliteOnly }, async (t) => {
  const srv = await startWharfFor(t);
  const image = ociImage();
  await pushImage(srv.url, 'ops/app', 'v1', image);
  const scrape = async () => (await get(`${srv.url}/metrics`)).text();
  const before = await scrape();
  for (let i = 0; i < 20; i++) assert.equal((await get(`${srv.url}/v2/ops/app/manifests/v1`, { headers: { accept: image.manifest.mediaType } })).status, 200);
  const after = await scrape();
  const reads = (text: string) => metricValue(text, 'wharf_database_statements_total', { kind: 'read' });
  assert.ok(reads(after) - reads(before) >= 20, `a read (or two) per GET: ${reads(before)} -> ${reads(after)}`);
  assert.ok(metricValue(after, 'wharf_database_sync_seconds_total', { kind: 'read' }) > metricValue(before, 'wharf_database_sync_seconds_total', { kind: 'read' }));
  assert.ok(metricValue(after, 'wharf_database_sync_seconds_total', { kind: 'commit' }) > 0, 'the push committed on the main connection');
  assert.ok(metricValue(after, 'wharf_event_loop_delay_seconds_count') > 0);
  for (const q of ['0.5', '0.99', '1']) assert.ok(metricValue(after, 'wharf_event_loop_delay_window_seconds', { quantile: q }) >= 0);
});
