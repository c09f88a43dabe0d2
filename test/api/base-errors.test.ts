/**
 * GET /v2/, unknown endpoints and methods, the error envelope, and TLS bytes on the plain port.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { del, get, head, patch, post, put, request } from '../fixtures/http.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError, assertErrorAndAlive } from './support.js';

/** The first bytes a real TLS client sends: captured from node:tls against a silent TCP server. */
async function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const client = tls.connect({ host: '127.0.0.1', port, servername: 'registry.test', rejectUnauthorized: false });
      client.on('error', () => undefined);
    });
    server.on('error', reject);
  });
}

/** Writes raw bytes to the port and collects everything the server answers until it closes. */
async function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (e) => (chunks.length ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(e)));
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer to raw bytes')));
  });
}

describe('base endpoint and errors', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('GET /v2/ answers 200 {} with Docker-Distribution-API-Version', async () => {
    const r = await get(`${srv.url}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(r.json(), {});
    assert.ok(r.headers['x-request-id'], 'every reply carries a request id');
  });

  test('HEAD /v2/ and GET /v2 (no slash) answer 200', async () => {
    const h = await head(`${srv.url}/v2/`);
    assert.equal(h.status, 200);
    assert.equal(h.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(h.body.length, 0);
    const g = await get(`${srv.url}/v2`);
    assert.equal(g.status, 200);
  });

  test('a sane X-Request-Id from a proxy is echoed, a hostile one replaced', async () => {
    const ok = await get(`${srv.url}/v2/`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(ok.headers['x-request-id'], 'abc-123');
    const bad = await get(`${srv.url}/v2/`, { headers: { 'x-request-id': 'a b\tc<script>' } });
    assert.notEqual(bad.headers['x-request-id'], 'a b\tc<script>');
  });

  test('TLS ClientHello bytes on the plain-HTTP port get an HTTP/1.1 400 answer', async () => {
    const hello = await captureClientHello();
    assert.equal(hello[0], 0x16, 'captured a TLS handshake record');
    const reply = await rawExchange(srv.port, hello);
    assert.ok(reply.startsWith('HTTP/1.1 400'), `reply: ${JSON.stringify(reply.slice(0, 80))}`);
    await assertAlive(srv.url);
  });

  test('garbage request line gets 400 and the server stays up', async () => {
    const reply = await rawExchange(srv.port, Buffer.from('\x00\x01\x02 nonsense\r\n\r\n', 'latin1'));
    assert.ok(reply.startsWith('HTTP/1.1 400'), `reply: ${JSON.stringify(reply.slice(0, 80))}`);
    await assertAlive(srv.url);
  });

  test('an unknown /v2 endpoint is 404 NOT_FOUND in the envelope, with the API version header', async () => {
    for (const p of ['/v2/foo', '/v2/foo/bar', '/v2/foo/blobs', '/v2/foo/manifests/', '/v2/foo/tags', '/v2/_catalog/x']) {
      const r = await get(`${srv.url}${p}`);
      assertError(r, 404, 'NOT_FOUND', p);
      assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0', p);
    }
    await assertAlive(srv.url);
  });

  test('methods an endpoint does not support are 405 UNSUPPORTED', async () => {
    const digest = 'sha256:' + '0'.repeat(64);
    const cases: Array<[string, string]> = [
      ['POST', '/v2/'],
      ['DELETE', '/v2/'],
      ['POST', '/v2/_catalog'],
      ['PUT', '/v2/a/tags/list'],
      ['DELETE', '/v2/a/referrers/' + digest],
      ['GET', '/v2/a/blobs/uploads/'],
      ['PUT', '/v2/a/blobs/' + digest],
      ['PATCH', '/v2/a/blobs/' + digest],
      ['POST', '/v2/a/manifests/latest'],
      ['PATCH', '/v2/a/manifests/latest'],
    ];
    for (const [method, p] of cases) {
      const r = await request(method, `${srv.url}${p}`);
      assertError(r, 405, 'UNSUPPORTED', `${method} ${p}`);
    }
    await assertAlive(srv.url);
  });

  test('every error of the API is an envelope and the server answers /v2/ after each', async () => {
    const zero = 'sha256:' + '0'.repeat(64);
    const u = srv.url;
    await assertErrorAndAlive(u, await get(`${u}/v2/a/blobs/${zero}`), 404, 'BLOB_UNKNOWN');
    await assertErrorAndAlive(u, await get(`${u}/v2/a/blobs/sha256:xyz`), 400, 'DIGEST_INVALID');
    await assertErrorAndAlive(u, await get(`${u}/v2/a/manifests/v1`), 404, 'MANIFEST_UNKNOWN');
    await assertErrorAndAlive(u, await put(`${u}/v2/a/manifests/v1`, { body: '{', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }), 400, 'MANIFEST_INVALID');
    await assertErrorAndAlive(u, await get(`${u}/v2/A/tags/list`), 400, 'NAME_INVALID');
    await assertErrorAndAlive(u, await get(`${u}/v2/nope/tags/list`), 404, 'NAME_UNKNOWN');
    await assertErrorAndAlive(u, await get(`${u}/v2/_catalog?n=-1`), 400, 'PAGINATION_NUMBER_INVALID');
    await assertErrorAndAlive(u, await patch(`${u}/v2/a/blobs/uploads/nope`, { body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertErrorAndAlive(u, await del(`${u}/v2/a/blobs/uploads/nope`), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertErrorAndAlive(u, await post(`${u}/v2/a/blobs/uploads/?digest=${zero}`, { body: 'abc' }), 400, 'DIGEST_INVALID');
    await assertErrorAndAlive(u, await put(`${u}/v2/a/manifests/-bad`, { body: '{}', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }), 400, 'TAG_INVALID');
    await assertErrorAndAlive(u, await get(`${u}/v2/a/blobs/${zero}`, { headers: { range: 'bytes=5-1' } }), 404, 'BLOB_UNKNOWN');
  });
});
