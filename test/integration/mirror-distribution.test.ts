/**
 * The mirror's upstream client against CNCF Distribution 2.8.2: the Bearer token flow (behind a
 * token server written here) and htpasswd Basic auth.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { distributionSkipReason, startDistribution } from '../fixtures/distribution.js';
import { get, pushImage } from '../fixtures/http.js';
import { MEDIA, ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { startTokenUpstream } from './mirror-token-upstream.js';

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

async function pullAll(base: string, repo: string, reference: string): Promise<string[]> {
  const m = await get(`${base}/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
  assert.equal(m.status, 200, `manifest: ${m.status} ${m.text()}`);
  const doc = m.json<{ config: { digest: string }; layers: Array<{ digest: string }> }>();
  const digests = [sha256(m.body)];
  for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const b = await get(`${base}/v2/${repo}/blobs/${d}`);
    assert.equal(b.status, 200, `blob ${d}: ${b.status} ${b.text()}`);
    assert.equal(sha256(b.body), d);
    digests.push(d);
  }
  return digests;
}

describe('mirror: CNCF Distribution upstreams', { skip: distributionSkipReason() }, () => {
  test('Bearer token flow: token fetched with the mirror credentials, cached, and reused', async (t) => {
    const upstream = await startTokenUpstream({ mirror: 's3cret', pusher: 'p' });
    t.after(() => upstream.stop());
    const img = ociImage({ layers: [randomBlob(4096), randomBlob(100)] });
    await pushImage(upstream.url, 't/app', 'v1', img, { bearer: await upstream.mint('t/app') });

    const mirror = await startWharfFor(t, {
      config: {
        mirror: {
          upstreams: [
            { name: 'dist', url: upstream.url, registry: 'dist.test', username: 'mirror', password: 's3cret' },
            { name: 'wrongpw', url: upstream.url, registry: 'wrong.test', username: 'mirror', password: 'nope' },
            { name: 'anon', url: upstream.url, registry: 'anon.test' },
          ],
        },
      },
    });
    upstream.tokenRequests.length = 0;
    const digests = await pullAll(mirror.url, 'dist/t/app', 'v1');
    assert.equal(digests[0], img.manifest.digest);
    assert.deepEqual(upstream.tokenRequests, [{ scope: 'repository:t/app:pull', service: 'wharf-test-registry', user: 'mirror' }], 'one token, reused for the manifest and every blob');

    // cached: the second pull needs no token (nothing goes upstream)
    upstream.tokenRequests.length = 0;
    assert.deepEqual(await pullAll(mirror.url, 'dist/t/app', 'v1'), digests);
    assert.equal(upstream.tokenRequests.length, 0);

    // wrong credentials: a clear DENIED naming the upstream
    const denied = await get(`${mirror.url}/v2/wrongpw/t/app/manifests/v1`, { headers: { accept: ACCEPT } });
    assert.equal(denied.status, 403);
    const error = denied.json<{ errors: Array<{ code: string; message: string }> }>().errors[0]!;
    assert.equal(error.code, 'DENIED');
    assert.match(error.message, /upstream wrongpw/);
    // no credentials: the token has no access, Distribution refuses it
    const anonymous = await get(`${mirror.url}/v2/anon/t/app/manifests/v1`, { headers: { accept: ACCEPT } });
    assert.equal(anonymous.status, 403);
  });

  test('Basic auth (htpasswd) upstream', async (t) => {
    const upstream = await startDistribution(t, { htpasswd: { alice: 'secret' } });
    const img = ociImage({ layers: [randomBlob(2048)] });
    await pushImage(upstream.url, 't/basic', 'v1', img, { auth: { username: 'alice', password: 'secret' } });
    const mirror = await startWharfFor(t, {
      config: { mirror: { upstreams: [{ name: 'basic', url: upstream.url, registry: 'basic.test', username: 'alice', password: 'secret' }] } },
    });
    const digests = await pullAll(mirror.url, 'basic/t/basic', 'v1');
    assert.equal(digests[0], img.manifest.digest);
    // tags/list goes upstream too
    const tags = await get(`${mirror.url}/v2/basic/t/basic/tags/list`);
    assert.equal(tags.status, 200);
    assert.deepEqual(tags.json<{ tags: string[] }>().tags, ['v1']);
  });
});
