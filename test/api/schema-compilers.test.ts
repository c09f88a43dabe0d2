/**
 * The management API's request and response schemas are compiled at each route's first request
 * (src/http/lazy-schema-compilers.ts): nothing of Ajv or fast-json-stringify is loaded at
 * start-up, every schema of the app still compiles, and validation answers as before.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { compilePendingSchemas } from '../../src/http/lazy-schema-compilers.js';
import { get, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor } from '../fixtures/server.js';

/** Whether a package's main module is loaded (Fastify loads fast-json-stringify's runtime helpers for its errors). */
const loaded = (main: string) => Object.keys(createRequire(import.meta.url).cache).some((file) => file.endsWith(`/node_modules/${main}`));

test('no schema is compiled at start-up, and every schema of the app compiles', async (t) => {
  const dataDir = await makeTempDir('wharf-schemas-');
  t.after(() => removeDir(dataDir));
  const app = await buildApp(loadConfig({ env: {}, overrides: { dataDirectory: dataDir, auth: { mode: 'token' } } }), pino({ level: 'silent' }));
  t.after(() => app.close());
  await app.http.ready();
  assert.equal(loaded('ajv/dist/ajv.js'), false, 'Ajv is not loaded at start-up');
  assert.equal(loaded('fast-json-stringify/index.js'), false, 'fast-json-stringify is not loaded at start-up');

  const compiled = compilePendingSchemas();
  // Request parts and response codes of every /api/v1 route (128 when this was written).
  assert.ok(compiled >= 100, `compiled ${compiled} schemas`);
  assert.equal(loaded('ajv/dist/ajv.js'), true);
  assert.equal(loaded('fast-json-stringify/index.js'), true);
  assert.equal(compilePendingSchemas(), 0, 'each schema is compiled once');

  const listed = await app.http.inject({ method: 'GET', url: '/api/v1/openapi.json' });
  assert.equal(listed.statusCode, 200);
});

test('validation at the first request: coercion, the failing part named, the error envelope', async (t) => {
  const srv = await startWharfFor(t);
  for (const name of ['a/one', 'a/two', 'a/three']) await pushImage(srv.url, name, 'v1', ociImage());
  const api = `${srv.url}/api/v1/repositories`;
  const refused = await get(`${api}?limit=0`);
  assert.equal(refused.status, 400);
  const error = refused.json<{ errors: Array<{ code: string; message: string }> }>().errors[0]!;
  assert.equal(error.code, 'INVALID_REQUEST');
  assert.match(error.message, /querystring\/limit must be >= 1/);
  // The same validator again (now compiled), then a value it coerces from the query string.
  assert.equal((await get(`${api}?limit=abc`)).status, 400);
  const page = await get(`${api}?limit=2`);
  assert.equal(page.status, 200, page.text());
  assert.equal(page.json<{ items: unknown[] }>().items.length, 2);
});
