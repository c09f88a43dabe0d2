/**
 * Repository names: nested namespaces, the 255-character limit, and everything else refused
 * with NAME_INVALID (or NOT_FOUND when no route matches) — traversal attempts never reach disk.
 * Paths are sent raw (node:http with a literal path), since WHATWG URLs would normalise `..`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, pushBlob, pushImage, toResponse, type Response } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { repoRoot } from '../fixtures/paths.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { assertAlive, assertError } from './support.js';

/** One request with `rawPath` sent exactly as written. */
function rawRequest(srv: WharfServer, method: string, rawPath: string, body?: Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path: rawPath, agent: false, headers: { ...headers, ...(body ? { 'content-length': body.length } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve(toResponse(res, Buffer.concat(chunks)));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every file and directory name under `dir`, `depth` levels deep (missing dirs: none). */
async function namesUnder(dir: string, depth: number): Promise<string[]> {
  if (depth < 0 || !existsSync(dir)) return [];
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  for (const e of entries) {
    out.push(e.name);
    if (e.isDirectory()) out.push(...(await namesUnder(path.join(dir, e.name), depth - 1)));
  }
  return out;
}

async function treeOf(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('repository names', () => {
  let srv: WharfServer;
  const marker = `wharf-escape-${randomBytes(4).toString('hex')}`;
  before(async () => {
    srv = await startWharf();
  });
  after(() => srv.stop());

  test('nested namespaces work end to end', async () => {
    const img = ociImage();
    const name = 'org/team/project/sub/image';
    assert.equal((await pushImage(srv.url, name, 'v1', img)).status, 201);
    assert.equal((await get(`${srv.url}/v2/${name}/manifests/v1`)).status, 200);
    assert.deepEqual((await get(`${srv.url}/v2/${name}/tags/list`)).json(), { name, tags: ['v1'] });
    // separators the grammar allows
    for (const n of ['a.b/c_d/e__f/g-h/i---j', '0/1', 'x9']) {
      const b = randomBlob(4);
      assert.equal((await pushBlob(srv.url, n, sha256(b), b)).status, 201, n);
    }
  });

  test('255 characters is the limit', async () => {
    const name255 = `${'a'.repeat(100)}/${'b'.repeat(100)}/${'c'.repeat(53)}`;
    assert.equal(name255.length, 255);
    const b = randomBlob(4);
    assert.equal((await pushBlob(srv.url, name255, sha256(b), b)).status, 201);
    assert.equal((await get(`${srv.url}/v2/${name255}/blobs/${sha256(b)}`)).status, 200);
    const name256 = name255 + 'c';
    assertError(await rawRequest(srv, 'POST', `/v2/${name256}/blobs/uploads/`), 400, 'NAME_INVALID');
    assertError(await rawRequest(srv, 'GET', `/v2/${name256}/tags/list`), 400, 'NAME_INVALID');
  });

  test('invalid names and traversal attempts: NAME_INVALID or NOT_FOUND, nothing created', async () => {
    const tmpBefore = await treeOf(srv.tmpDir);
    const zero = `sha256:${'0'.repeat(64)}`;
    const names = [
      'Upper',
      'a/B',
      '..',
      `../${marker}`,
      `../../${marker}`,
      `a/../${marker}`,
      `a/./b`,
      '.hidden',
      `%2e%2e/${marker}`,
      `%2e%2e%2f${marker}`,
      `a%2F${marker}`,
      `a%2f..%2f${marker}`,
      `/${marker}`,
      `//${marker}`,
      `${marker}/`,
      `a//b`,
      `-${marker}`,
      `${marker}-`,
      `a_`,
      `a___b`,
      `a%20b`,
      `a%00b`,
      `${marker}%5c..%5cx`,
      `${marker}\\..\\x`,
      `a:b`,
      `a@b`,
    ];
    const requests: Array<[string, (n: string) => string, Buffer | undefined]> = [
      ['POST', (n) => `/v2/${n}/blobs/uploads/`, undefined],
      ['POST', (n) => `/v2/${n}/blobs/uploads/?digest=${sha256('abc')}`, Buffer.from('abc')],
      ['PUT', (n) => `/v2/${n}/manifests/v1`, Buffer.from('{}')],
      ['GET', (n) => `/v2/${n}/manifests/v1`, undefined],
      ['GET', (n) => `/v2/${n}/tags/list`, undefined],
      ['GET', (n) => `/v2/${n}/blobs/${zero}`, undefined],
      ['DELETE', (n) => `/v2/${n}/blobs/${zero}`, undefined],
      ['GET', (n) => `/v2/${n}/referrers/${zero}`, undefined],
    ];
    for (const n of names) {
      for (const [method, make, body] of requests) {
        const p = make(n);
        const r = await rawRequest(srv, method, p, body);
        const what = `${method} ${p}`;
        if (r.status === 404) assertError(r, 404, 'NOT_FOUND', what);
        else assertError(r, 400, 'NAME_INVALID', what);
      }
    }
    await assertAlive(srv.url);

    // nothing outside the data dir: the server's temp dir is unchanged apart from data/
    const tmpAfter = await treeOf(srv.tmpDir);
    assert.deepEqual(
      tmpAfter.filter((f) => !f.startsWith('data')),
      tmpBefore.filter((f) => !f.startsWith('data')),
    );
    // and the marker name appears nowhere near: not in the data dir, its parents, or the server's cwd
    for (const dir of [srv.dataDir, srv.tmpDir, path.dirname(srv.tmpDir), repoRoot]) {
      const found = (await namesUnder(dir, dir === repoRoot ? 2 : 6)).filter((x) => x.includes(marker));
      assert.deepEqual(found, [], `no ${marker} under ${dir}`);
    }
    // and no repository was recorded
    const catalog = (await get(`${srv.url}/v2/_catalog`)).json<{ repositories: string[] }>().repositories;
    assert.ok(!catalog.some((x) => x.includes(marker) || /[A-Z]/.test(x) || x.includes('..')), catalog.join());
  });

  test('a traversal in the digest or upload id part is refused too', async () => {
    for (const p of ['/v2/a/blobs/..%2f..%2fetc', '/v2/a/blobs/sha256:..%2f..%2fx', '/v2/a/manifests/..%2f..%2fx', '/v2/a/referrers/..%2fx']) {
      const r = await rawRequest(srv, 'GET', p);
      assert.ok([400, 404].includes(r.status), `${p}: ${r.status}`);
      const code = r.json<{ errors: Array<{ code: string }> }>().errors[0]!.code;
      assert.ok(['DIGEST_INVALID', 'TAG_INVALID', 'NOT_FOUND', 'MANIFEST_UNKNOWN', 'BLOB_UNKNOWN'].includes(code), `${p}: ${code}`);
    }
    for (const id of ['..%2f..%2fx', '%2e%2e', '..']) {
      const r = await rawRequest(srv, 'PATCH', `/v2/a/blobs/uploads/${id}`, Buffer.from('abc'));
      assert.ok([404].includes(r.status), `${id}: ${r.status} ${r.text()}`);
      await assertAlive(srv.url);
    }
  });
});
