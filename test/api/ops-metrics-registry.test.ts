/**
 * The metrics registry in-process: one registry per app, database failures observed by
 * operation, stored counts cached between scrapes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, observeRejections } from '../../src/lib/metrics.js';
import { metricValue } from './ops-support.js';

test('two apps in one process keep separate registries', async () => {
  const a = createMetrics({ processMetrics: false });
  const b = createMetrics({ processMetrics: false });
  a.requests.inc({ route: 'blob', method: 'GET', status: '200' });
  const textA = (await a.render()).body;
  const textB = (await b.render()).body;
  assert.equal(metricValue(textA, 'wharf_http_requests_total', { route: 'blob' }), 1);
  assert.ok(Number.isNaN(metricValue(textB, 'wharf_http_requests_total', { route: 'blob' })));
  // Process metrics can be registered by several registries without "already registered" errors.
  const c = createMetrics();
  const d = createMetrics();
  assert.ok(metricValue((await c.render()).body, 'wharf_process_resident_memory_bytes') > 0);
  assert.ok(metricValue((await d.render()).body, 'wharf_process_resident_memory_bytes') > 0);
});

test('observeRejections reports failures by operation and passes everything else through', async () => {
  class DomainError extends Error {}
  const failures: string[] = [];
  const store = {
    uploads: {
      count: 0,
      async create(id: string) {
        this.count++;
        if (id === 'bad') throw new Error('SQLITE_BUSY: database is locked');
        if (id === 'domain') throw new DomainError('not the database');
        return `created ${id}`;
      },
    },
    ping: async () => {
      throw new Error('connection refused');
    },
    name: 'sqlite',
  };
  const observed = observeRejections(store, (operation) => failures.push(operation), (error) => !(error instanceof DomainError));
  assert.equal(await observed.uploads.create('a'), 'created a');
  assert.equal(store.uploads.count, 1, 'methods run with their own object as this');
  await assert.rejects(observed.uploads.create('bad'), /SQLITE_BUSY/);
  await assert.rejects(observed.uploads.create('domain'), DomainError);
  await assert.rejects(observed.ping(), /refused/);
  assert.equal(observed.name, 'sqlite');
  assert.deepEqual(failures, ['uploads.create', 'ping']);
});

test('stored counts are read once per TTL and a failed read reports nothing', async () => {
  let reads = 0;
  let fail = false;
  const metrics = createMetrics({
    processMetrics: false,
    countsTtlMs: 60_000,
    counts: async () => {
      reads++;
      if (fail) throw new Error('database down');
      return { blobs: 7, manifests: 3, uploadsOpen: 1 };
    },
  });
  for (let i = 0; i < 3; i++) {
    const text = (await metrics.render()).body;
    assert.equal(metricValue(text, 'wharf_blobs'), 7);
    assert.equal(metricValue(text, 'wharf_manifests'), 3);
    assert.equal(metricValue(text, 'wharf_upload_sessions_open'), 1);
  }
  assert.equal(reads, 1, 'one COUNT round-trip for three scrapes');

  fail = true;
  const fresh = createMetrics({ processMetrics: false, counts: async () => Promise.reject(new Error('down')) });
  const text = (await fresh.render()).body;
  assert.equal(metricValue(text, 'wharf_blobs'), 0, 'no value but the gauge default, never a bogus -1');
});
