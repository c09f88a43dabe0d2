/**
 * The mirror under authentication: mirrored public images are pullable by every signed-in user
 * (through the proxy project and through the default upstream), never by anonymous callers,
 * and never writable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, post, pushImage, pushManifest } from '../fixtures/http.js';
import { MEDIA, ociImage, randomBlob } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';

const ACCEPT = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(', ');
const admin = { username: 'root', password: 'root-password-1' };
const alice = { username: 'alice', password: 'alice-password-1' };

describe('mirror with basic auth', () => {
  let upstream: WharfServer;
  let mirror: WharfServer;
  const image = ociImage({ layers: [randomBlob(1024)] });

  before(async () => {
    upstream = await startWharf();
    await pushImage(upstream.url, 'lib/app', 'v1', image);
    mirror = await startWharf({
      env: { WHARF_ADMIN_USER: admin.username, WHARF_ADMIN_PASSWORD: admin.password },
      config: {
        auth: { mode: 'basic' },
        mirror: { upstreams: [{ name: 'up', url: upstream.url, registry: 'registry.up.test', default: true }] },
      },
    });
    const created = await post(`${mirror.url}/api/v1/users`, {
      auth: admin,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ name: alice.username, password: alice.password })),
    });
    assert.equal(created.status, 201, created.text());
  });
  after(async () => {
    await mirror?.stop();
    await upstream?.stop();
  });

  test('a signed-in user who is a member of nothing pulls through the proxy project and the default upstream', async () => {
    for (const repo of ['up/lib/app', 'lib/app']) {
      const manifest = await get(`${mirror.url}/v2/${repo}/manifests/v1`, { auth: alice, headers: { accept: ACCEPT } });
      assert.equal(manifest.status, 200, `${repo}: ${manifest.text()}`);
      assert.equal(manifest.headers['docker-content-digest'], image.manifest.digest);
      const layer = await get(`${mirror.url}/v2/${repo}/blobs/${image.layers[0]!.digest}`, { auth: alice });
      assert.equal(layer.status, 200);
    }
  });

  test('the audit log records mirror pulls with their upstream and whether the cache had them', async () => {
    const repo = 'up/lib/audited';
    await pushImage(upstream.url, 'lib/audited', 'v1', image);
    for (let i = 0; i < 2; i++) {
      const pulled = await get(`${mirror.url}/v2/${repo}/manifests/v1`, { auth: alice, headers: { accept: ACCEPT } });
      assert.equal(pulled.status, 200);
    }
    const audit = await get(`${mirror.url}/api/v1/audit?action=pull&actor=alice&limit=50`, { auth: admin });
    assert.equal(audit.status, 200, audit.text());
    const events = audit
      .json<{ events: Array<{ repository: string; detail: { mirror?: { upstream: string; cache: string } } | null }> }>()
      .events.filter((e) => e.repository === repo)
      .reverse();
    assert.deepEqual(
      events.map((e) => e.detail?.mirror),
      [
        { upstream: 'up', cache: 'miss' },
        { upstream: 'up', cache: 'hit' },
      ],
    );
  });

  test('anonymous callers are asked to sign in', async () => {
    const response = await get(`${mirror.url}/v2/up/lib/app/manifests/v1`, { headers: { accept: ACCEPT } });
    assert.equal(response.status, 401);
    assert.equal(response.json<{ errors: Array<{ code: string }> }>().errors[0]?.code, 'UNAUTHORIZED');
  });

  test('nobody but an admin may write to a mirror project, and the mirror refuses even the admin', async () => {
    const asAlice = await pushManifest(mirror.url, 'up/lib/app', 'v2', image.manifest, { auth: alice });
    assert.equal(asAlice.status, 403);
    const asAdmin = await pushManifest(mirror.url, 'up/lib/app', 'v2', image.manifest, { auth: admin });
    assert.equal(asAdmin.status, 403);
    assert.equal(asAdmin.json<{ errors: Array<{ code: string }> }>().errors[0]?.code, 'DENIED');
  });
});
