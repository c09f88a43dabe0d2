/**
 * Pull rules against a real upstream (CNCF Distribution) behind a counting proxy: exactly the
 * matching tags with every platform, nothing downloaded twice, new tags picked up, pinned images
 * kept under a tiny cache limit and served with the upstream stopped (skopeo), and a rule naming
 * a repository the upstream does not have failing clearly without stopping another rule.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClientEnv, missingClients, type ClientEnv } from '../fixtures/clients.js';
import { distributionSkipReason, startDistribution, type Distribution } from '../fixtures/distribution.js';
import { get, pushImage } from '../fixtures/http.js';
import { MEDIA, multiPlatformImage, ociImage, randomBlob, type Index } from '../fixtures/images.js';
import type { WharfServer } from '../fixtures/server.js';
import { startCountingProxy, type CountingProxy } from './mirror-fixtures.js';
import { ADMIN, adminApi, byReference, startReplicatingWharf } from './replication-support.js';

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');
const REPO = 'library/base';

/** Requests that downloaded content (GET of a manifest or a blob), as `METHOD path`. */
const downloads = (proxy: CountingProxy) => proxy.requests.filter((r) => /^GET \/v2\/.+\/(manifests|blobs)\//.test(r));

describe('replication: pull rules', { skip: distributionSkipReason() ?? missingClients('skopeo') }, () => {
  let upstream: Distribution;
  let proxy: CountingProxy;
  let wharf: WharfServer;
  let client: ClientEnv;
  const images = new Map<string, Index>();

  before(async () => {
    upstream = await startDistribution(undefined);
    for (const tag of ['1.0', '1.1', '2.0', '3.0', 'nightly']) {
      const image = multiPlatformImage(4096);
      images.set(tag, image);
      await pushImage(upstream.url, REPO, tag, image);
    }
    await pushImage(upstream.url, 'library/other', '1', ociImage({ layers: [randomBlob(8192)] }));
    proxy = await startCountingProxy(upstream.url);
    // A cache limit far below what the rule keeps: only pins keep it from being evicted.
    wharf = await startReplicatingWharf({ mirror: { cacheMaxBytes: 1024, upstreams: [{ name: 'hub', url: proxy.url, registry: 'upstream.test' }] } });
    client = await createClientEnv({ registries: [wharf.host] });
  });
  after(async () => {
    await client?.cleanup();
    await wharf?.stop();
    await proxy?.close();
    await upstream?.stop();
  });

  test('a run fetches exactly the matching tags, every platform; the next run downloads nothing; a new tag is picked up', async () => {
    const api = adminApi(wharf);
    await api.createRule({ name: 'base', kind: 'pull', intervalSeconds: null, pull: { upstream: 'hub', repositories: [{ name: REPO, tags: { type: 'semver', pattern: '>=1 <3' } }] } });

    const first = await api.runAndWait('base');
    assert.equal(first.run.status, 'succeeded', JSON.stringify(first.run));
    assert.deepEqual(byReference(first.items), { [`${REPO}:1.0`]: 'done', [`${REPO}:1.1`]: 'done', [`${REPO}:2.0`]: 'done' });
    assert.ok(first.run.bytes > 3 * 2 * 4096, `bytes counted: ${first.run.bytes}`);
    assert.equal(first.run.blobs.copied, 3 * 2 * 2, 'a layer and a config per platform, per tag');

    // Every platform of each matching tag is in the cache, byte for byte; nothing else is.
    const tags = (await get(`${wharf.url}/v2/hub/${REPO}/tags/list`, { auth: ADMIN })).json<{ tags: string[] }>().tags;
    assert.deepEqual(tags.sort(), ['1.0', '1.1', '2.0', '3.0', 'nightly'], 'the tag list is the upstream\'s');
    for (const tag of ['1.0', '1.1', '2.0']) {
      const index = images.get(tag)!;
      for (const child of index.images) assert.ok(proxy.requests.includes(`GET /v2/${REPO}/manifests/${child.manifest.digest}`), `child of ${tag} fetched`);
    }
    assert.ok(!downloads(proxy).some((r) => r.includes(images.get('3.0')!.manifest.digest) || r.includes(images.get('nightly')!.manifest.digest)), 'non-matching tags untouched');

    proxy.reset();
    const second = await api.runAndWait('base');
    assert.equal(second.run.status, 'succeeded');
    assert.deepEqual(byReference(second.items), { [`${REPO}:1.0`]: 'skipped', [`${REPO}:1.1`]: 'skipped', [`${REPO}:2.0`]: 'skipped' });
    assert.deepEqual(downloads(proxy), [], 'the second run downloads nothing');
    assert.equal(second.run.bytes, 0);

    const fresh = multiPlatformImage(4096);
    images.set('2.1', fresh);
    await pushImage(upstream.url, REPO, '2.1', fresh);
    proxy.reset();
    const third = await api.runAndWait('base');
    assert.equal(byReference(third.items)[`${REPO}:2.1`], 'done');
    assert.equal(third.items.filter((i) => i.status === 'done').length, 1, 'only the new tag is fetched');
    assert.equal(downloads(proxy).filter((r) => r.includes('/blobs/')).length, 4, 'the new tag\'s two layers and two configs');
    const pins = (await api.ok('GET', '/replication/rules/base/pins')).json<{ pins: Array<{ tag: string; digests: number }> }>().pins;
    assert.deepEqual(pins.map((p) => p.tag), ['1.0', '1.1', '2.0', '2.1']);
    assert.ok(pins.every((p) => p.digests === 7), 'index, two children, two layers, two configs');
  });

  test('pinned images survive a tiny cache limit and pull with the upstream stopped; unpinned ones are evicted', async () => {
    // Pulled through, not pinned: the cache limit evicts it.
    const other = await get(`${wharf.url}/v2/hub/library/other/manifests/1`, { auth: ADMIN, headers: { accept: ACCEPT } });
    assert.equal(other.status, 200);
    for (const blob of other.json<{ layers: Array<{ digest: string }> }>().layers) {
      assert.equal((await get(`${wharf.url}/v2/hub/library/other/blobs/${blob.digest}`, { auth: ADMIN })).status, 200);
    }
    const cachedTags = async () => {
      const listed = await get(`${wharf.url}/api/v1/repositories/${encodeURIComponent('hub/library/other')}/-/tags`, { auth: ADMIN });
      return listed.status === 200 ? listed.json<{ items: unknown[] }>().items.length : 0;
    };
    for (let i = 0; i < 200 && (await cachedTags()) > 0; i++) await sleep(100);
    assert.equal(await cachedTags(), 0, 'the unpinned image is evicted');

    await upstream.stop();
    const layout = path.join(client.dir, 'pulled');
    for (const tag of ['1.0', '1.1', '2.0', '2.1']) {
      await client.skopeo(['copy', '--all', '--preserve-digests', `--src-creds=${ADMIN.username}:${ADMIN.password}`, `docker://${wharf.host}/hub/${REPO}:${tag}`, `oci:${layout}:${tag}`]);
    }
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.deepEqual(
      index.manifests.map((m) => m.digest).sort(),
      ['1.0', '1.1', '2.0', '2.1'].map((t) => images.get(t)!.manifest.digest).sort(),
      'digests unchanged',
    );
    const gone = await get(`${wharf.url}/v2/hub/library/other/manifests/1`, { auth: ADMIN, headers: { accept: ACCEPT } });
    assert.notEqual(gone.status, 200, 'the unpinned image was evicted and the upstream is down');
  });
});

describe('replication: pull rule errors', { skip: distributionSkipReason() }, () => {
  test('a repository the upstream does not have: a clear error in the run log; another rule runs fine', async (t) => {
    const upstream = await startDistribution(t);
    await pushImage(upstream.url, 'library/present', 'v1', ociImage());
    const wharf = await startReplicatingWharf({ mirror: { upstreams: [{ name: 'hub', url: upstream.url, registry: 'upstream.test' }] } });
    t.after(() => wharf.stop());
    const api = adminApi(wharf);
    await api.createRule({ name: 'missing', kind: 'pull', intervalSeconds: null, pull: { upstream: 'hub', repositories: [{ name: 'library/absent' }, { name: 'library/present' }] } });
    await api.createRule({ name: 'fine', kind: 'pull', intervalSeconds: null, pull: { upstream: 'hub', repositories: [{ name: 'library/present' }] } });

    const [broken, fine] = await Promise.all([api.runAndWait('missing'), api.runAndWait('fine')]);
    assert.equal(broken.run.status, 'failed');
    assert.match(broken.run.error ?? '', /library\/absent.*does not exist at upstream hub/);
    const failed = broken.items.find((i) => i.repository === 'library/absent')!;
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /repository library\/absent does not exist at upstream hub/);
    assert.equal(byReference(broken.items)['library/present:v1'], 'done', 'the rule\'s other repository is still kept');
    assert.equal(fine.run.status, 'succeeded');

    // Invalid definitions never get stored: an unknown upstream, a bad pattern.
    const unknownUpstream = await api.call('POST', '/replication/rules', { name: 'nope', kind: 'pull', pull: { upstream: 'elsewhere', repositories: [{ name: 'x/y' }] } });
    assert.equal(unknownUpstream.status, 400);
    assert.match(unknownUpstream.json<{ errors: Array<{ message: string }> }>().errors[0]!.message, /"elsewhere" is not one/);
    const badRange = await api.call('POST', '/replication/rules', { name: 'nope', kind: 'pull', pull: { upstream: 'hub', repositories: [{ name: 'x/y', tags: { type: 'semver', pattern: 'banana' } }] } });
    assert.equal(badRange.status, 400);
    assert.match(badRange.json<{ errors: Array<{ message: string }> }>().errors[0]!.message, /invalid semver tag filter "banana"/);
  });
});
