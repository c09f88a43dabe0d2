/**
 * Shared assertions for the API tests: the OCI error envelope, and "the server still answers".
 */
import assert from 'node:assert/strict';
import { get, type Response } from '../fixtures/http.js';

export interface ErrorEnvelope {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

/** Asserts `res` is the spec's error reply: `status`, a JSON envelope, first code `code`. */
export function assertError(res: Response, status: number, code: string, what = ''): ErrorEnvelope {
  const label = `${what ? what + ': ' : ''}${res.status} ${res.text().slice(0, 300)}`;
  assert.equal(res.status, status, label);
  assert.match(String(res.headers['content-type']), /^application\/json/, label);
  const body = res.json<ErrorEnvelope>();
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, label);
  assert.equal(body.errors[0]!.code, code, label);
  assert.equal(typeof body.errors[0]!.message, 'string', label);
  return body;
}

/** The server answers a follow-up `GET /v2/` (it survived whatever came before). */
export async function assertAlive(baseUrl: string): Promise<void> {
  const r = await get(`${baseUrl}/v2/`);
  assert.equal(r.status, 200, 'server still answers GET /v2/');
}

/** Like `assertError`, then `assertAlive`. */
export async function assertErrorAndAlive(baseUrl: string, res: Response, status: number, code: string, what = ''): Promise<ErrorEnvelope> {
  const body = assertError(res, status, code, what);
  await assertAlive(baseUrl);
  return body;
}
