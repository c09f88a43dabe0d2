/**
 * Requests refused below the routes — by Node's HTTP parser (headers too large, a malformed
 * request line, header or Content-Length) or by Fastify's router (a URL that does not decode, a
 * method no route has) — are answered in the registry's error envelope, on /v2 and /api/v1 alike,
 * and the server keeps serving.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from '../fixtures/http.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError, type ErrorEnvelope } from './support.js';

interface RawReply {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Writes `bytes` on a fresh connection and parses the one reply the server sends before closing. */
async function raw(port: number, bytes: string): Promise<RawReply> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes, 'latin1'));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (e) => (chunks.length ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(e)));
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
  });
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

function assertRawEnvelope(reply: RawReply, status: number, what: string): void {
  assert.equal(reply.status, status, `${what}: ${reply.status} ${reply.body}`);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/, what);
  const parsed = JSON.parse(reply.body) as ErrorEnvelope;
  assert.ok(Array.isArray(parsed.errors) && parsed.errors.length === 1, `${what}: envelope ${reply.body}`);
  assert.match(parsed.errors[0]!.code, /^[A-Z_]+$/, what);
  assert.equal(typeof parsed.errors[0]!.message, 'string', what);
  assert.equal(Object.hasOwn(parsed, 'statusCode'), false, `${what}: not Fastify's shape`);
}

describe('errors below the routes', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('headers too large: 431 in the envelope', async () => {
    for (const path of ['/v2/', '/api/v1/users']) {
      const reply = await raw(srv.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assertRawEnvelope(reply, 431, `431 on ${path}`);
    }
    await assertAlive(srv.url);
  });

  test('malformed request line, header, Content-Length and chunk: 400 in the envelope', async () => {
    const cases: Record<string, string> = {
      'request line': 'GARBAGE\r\n\r\n',
      'header line': 'GET /v2/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n',
      'Content-Length': 'PATCH /v2/a/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'Content-Length and chunked': 'POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      'chunk size': 'POST /v2/a/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    };
    for (const [what, bytes] of Object.entries(cases)) {
      const reply = await raw(srv.port, bytes);
      // A bad chunk may surface after the route already answered: then only the close tells.
      if (what === 'chunk size' && reply.status !== 400) continue;
      assertRawEnvelope(reply, 400, what);
    }
    await assertAlive(srv.url);
  });

  test('a URL that does not decode: 400 in the envelope, with the API version header on /v2', async () => {
    const v2 = await request('GET', `${srv.url}/v2/%zz/tags/list`);
    assertError(v2, 400, 'INVALID_REQUEST', '/v2');
    assert.equal(v2.headers['docker-distribution-api-version'], 'registry/2.0');
    assertError(await request('GET', `${srv.url}/api/v1/users/%zz`), 400, 'INVALID_REQUEST', '/api/v1');
  });

  test('a method no route has: 405 UNSUPPORTED on /v2, 404 NOT_FOUND elsewhere, both in the envelope', async () => {
    const v2 = await request('PROPFIND', `${srv.url}/v2/`);
    assertError(v2, 405, 'UNSUPPORTED', 'PROPFIND /v2/');
    assert.equal(v2.headers['docker-distribution-api-version'], 'registry/2.0');
    assertError(await request('PROPFIND', `${srv.url}/api/v1/users`), 404, 'NOT_FOUND', 'PROPFIND /api/v1');
    const headed = await request('HEAD', `${srv.url}/api/v1/users`);
    assert.equal(headed.status, 404, 'HEAD /api/v1 (no body, by HTTP)');
    assert.match(String(headed.headers['content-type']), /^application\/json/);
  });

  test('/api/v1 bodies: bad JSON, an unsupported type, too large — all in the envelope', async () => {
    const json = { 'content-type': 'application/json' };
    assertError(await request('POST', `${srv.url}/api/v1/users`, { body: '{bad', headers: json }), 400, 'INVALID_REQUEST', 'bad JSON');
    assertError(await request('POST', `${srv.url}/api/v1/users`, { body: '<a/>', headers: { 'content-type': 'text/xml' } }), 415, 'INVALID_REQUEST', 'type');
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    assertError(await request('POST', `${srv.url}/api/v1/users`, { body: big, headers: json }), 413, 'SIZE_INVALID', 'too large');
    await assertAlive(srv.url);
  });
});
