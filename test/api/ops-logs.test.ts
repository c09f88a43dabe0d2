/**
 * Structured logs: a request id on every request line and in X-Request-Id, and no secret in the
 * log, whether it came in a header, a query string or the configuration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { accessLines, eventually, logLines } from './ops-support.js';

const PASSWORD = 'Pa55-word-never-logged-7d1f';
const TOKEN = 'eyJ0b2tlbi1uZXZlci1sb2dnZWQtOWMy.c2lnbmF0dXJl';
const MIRROR_PASSWORD = 'mirror-secret-never-logged-41b8';
const ADMIN_PASSWORD = 'admin-secret-never-logged-0e5a';

describe('structured logs', () => {
  let srv: WharfServer;
  before(async () => {
    srv = await startWharf({
      config: {
        log: { level: 'debug' },
        mirror: {
          upstreams: [{ name: 'hub', url: 'https://registry-1.docker.io', registry: 'docker.io', username: 'bot', password: MIRROR_PASSWORD }],
        },
      },
      env: { WHARF_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
  });
  after(() => srv.stop());

  test('the effective configuration is logged at debug with its secrets masked', () => {
    const line = logLines(srv.logs()).find((l) => l.msg === 'effective configuration');
    assert.ok(line, 'config line at debug');
    const config = line.config as { mirror: { upstreams: Array<{ password: string; username: string }> } };
    assert.equal(config.mirror.upstreams[0]!.password, '****');
    assert.equal(config.mirror.upstreams[0]!.username, 'bot');
    assert.ok(!srv.logs().includes(MIRROR_PASSWORD));
  });

  test('a push with Basic credentials and bearer tokens leaves no secret in the log', async () => {
    const basic = Buffer.from(`pusher:${PASSWORD}`).toString('base64');
    const image = ociImage();
    await pushImage(srv.url, 'ops/secret', 'v1', image, { headers: { authorization: `Basic ${basic}`, cookie: `session=${TOKEN}` } });
    const pulled = await get(`${srv.url}/v2/ops/secret/manifests/v1?token=${TOKEN}`, {
      bearer: TOKEN,
      headers: { accept: image.manifest.mediaType, 'x-registry-auth': TOKEN },
    });
    assert.equal(pulled.status, 200);
    // A failing request too: errors are logged with more context than successes.
    const bad = await get(`${srv.url}/v2/ops/secret/blobs/sha256:zz?access_token=${TOKEN}`, { auth: { username: 'u', password: PASSWORD } });
    assert.equal(bad.status >= 400, true);
    await eventually(() => accessLines(srv.logs()).some((l) => l.reqId === bad.headers['x-request-id']), 5000, 'access line');
    const output = srv.logs();
    for (const secret of [PASSWORD, basic, TOKEN, ADMIN_PASSWORD, MIRROR_PASSWORD]) {
      assert.ok(!output.includes(secret), `log contains ${secret.slice(0, 12)}…`);
    }
  });

  test('every request line carries the request id the reply names', async () => {
    const replies = await Promise.all([get(`${srv.url}/v2/`), get(`${srv.url}/v2/ops/none/tags/list`), get(`${srv.url}/healthz`)]);
    const ids = replies.map((r) => String(r.headers['x-request-id']));
    assert.equal(new Set(ids).size, 3, 'distinct ids');
    await eventually(() => ids.every((id) => accessLines(srv.logs()).some((l) => l.reqId === id)), 5000, 'access lines');
    for (const [index, id] of ids.entries()) {
      const line = accessLines(srv.logs()).find((l) => l.reqId === id)!;
      assert.equal(line.status, replies[index]!.status);
    }
    // Any line logged inside a request (not only the access line) names its request.
    for (const line of logLines(srv.logs())) {
      if (line.req !== undefined || line.method !== undefined) assert.equal(typeof line.reqId, 'string', JSON.stringify(line));
    }
  });

  test('a malformed incoming X-Request-Id is replaced, a sane one kept', async () => {
    const kept = await get(`${srv.url}/v2/`, { headers: { 'x-request-id': 'lb-1234.abc_DEF' } });
    assert.equal(kept.headers['x-request-id'], 'lb-1234.abc_DEF');
    const replaced = await get(`${srv.url}/v2/`, { headers: { 'x-request-id': 'bad id\u00e9{}'.repeat(3) } });
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});
