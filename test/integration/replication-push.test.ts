/**
 * Push rules to real registries: a push into `release` replicates `release/app:1.0` with its
 * referrers to CNCF Distribution (htpasswd) and to a second Wharf with token auth, digest for
 * digest; a promotion into `release` triggers the rule too; blobs the target holds are not sent
 * again (HEAD, cross-repository mount); and an
 * unreachable target or wrong credentials fail clearly in the run log without stopping another rule.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { distributionSkipReason, startDistribution, type Distribution } from '../fixtures/distribution.js';
import { get, pushImage } from '../fixtures/http.js';
import { MEDIA, ociArtifact, ociImage, ociIndex, randomBlob, sha256, type Index } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { startCountingProxy, type CountingProxy } from './mirror-fixtures.js';
import { ADMIN, adminApi, byReference, startReplicatingWharf, type RunJson } from './replication-support.js';

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');
const TARGET_USER = { username: 'replicator', password: 'dist-secret' };
const TARGET_ADMIN = { username: 'boss', password: 'target-admin-pw' };

/** Waits for the rule's newest run to end (it was started by a trigger, not by the test). */
async function waitForTriggeredRun(api: ReturnType<typeof adminApi>, rule: string, after: number): Promise<RunJson> {
  for (let i = 0; i < 600; i++) {
    const runs = await api.runs(rule);
    if (runs.length > after) return api.waitForRun(runs[0]!.id);
    await sleep(100);
  }
  assert.fail(`no run of ${rule} was triggered`);
}

/** The target's manifest for `reference`: its digest, computed from the bytes it serves. */
async function digestAt(base: string, repository: string, reference: string, auth?: { username: string; password: string }, bearer?: string): Promise<string | undefined> {
  const response = await get(`${base}/v2/${repository}/manifests/${reference}`, { headers: { accept: ACCEPT }, ...(auth ? { auth } : {}), ...(bearer ? { bearer } : {}) });
  return response.status === 200 ? sha256(response.body) : undefined;
}

/** A registry bearer token from a token-auth Wharf for `scope`. */
async function tokenFor(server: WharfServer, scope: string): Promise<string> {
  const response = await get(`${server.url}/token?service=wharf&scope=${encodeURIComponent(scope)}`, { auth: TARGET_ADMIN });
  assert.equal(response.status, 200, response.text());
  return response.json<{ token: string }>().token;
}

/** Finished uploads of `digest` the proxy saw (PUT …/blobs/uploads/…?digest=). */
const uploadsOf = (proxy: CountingProxy, digest: string) =>
  proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('/blobs/uploads/') && (r.includes(encodeURIComponent(digest)) || r.includes(digest)));

describe('replication: push rules', { skip: distributionSkipReason() }, () => {
  let source: WharfServer;
  let distribution: Distribution;
  let distProxy: CountingProxy;
  let wharfTarget: WharfServer;
  let app: Index;
  let sbom: ReturnType<typeof ociArtifact>;

  before(async () => {
    distribution = await startDistribution(undefined, { htpasswd: { [TARGET_USER.username]: TARGET_USER.password } });
    distProxy = await startCountingProxy(distribution.url, { keepHost: true });
    wharfTarget = await startWharf({ config: { auth: { mode: 'token' } }, env: { WHARF_ADMIN_USER: TARGET_ADMIN.username, WHARF_ADMIN_PASSWORD: TARGET_ADMIN.password } });
    source = await startReplicatingWharf();
    const api = adminApi(source);
    await api.ok('POST', '/projects', { name: 'release' });
    await api.createRule({
      name: 'to-distribution',
      kind: 'push',
      push: { project: 'release', target: { url: distProxy.url }, triggers: ['push', 'promotion'] },
      credentials: TARGET_USER,
    });
    await api.createRule({
      name: 'to-wharf',
      kind: 'push',
      push: { project: 'release', tags: { type: 'glob', pattern: '1.*' }, target: { url: wharfTarget.url, namespace: 'mirror' }, triggers: ['push'] },
      credentials: TARGET_ADMIN,
    });
  });
  after(async () => {
    await source?.stop();
    await wharfTarget?.stop();
    await distProxy?.close();
    await distribution?.stop();
  });

  test('a push into release replicates release/app:1.0 with its referrers to Distribution and to a Wharf with token auth', async () => {
    const api = adminApi(source);
    app = ociIndex([
      ociImage({ layers: [randomBlob(200_000), randomBlob(5_000)], platform: { os: 'linux', architecture: 'amd64' } }),
      ociImage({ layers: [randomBlob(150_000)], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }),
    ]);
    await pushImage(source.url, 'release/app', '1.0', app, { auth: ADMIN });
    sbom = ociArtifact({ mediaType: app.manifest.mediaType, digest: app.manifest.digest, size: app.manifest.size });
    await pushImage(source.url, 'release/app', sbom.manifest.digest, sbom, { auth: ADMIN });

    const [toDist, toWharf] = await Promise.all([waitForTriggeredRun(api, 'to-distribution', 0), waitForTriggeredRun(api, 'to-wharf', 0)]);
    for (const run of [toDist, toWharf]) {
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.equal(run.trigger, 'push');
    }
    // The SBOM pushed after the image may come in the same run or the next one: wait for both.
    for (const rule of ['to-distribution', 'to-wharf']) {
      for (let i = 0; i < 100 && (await api.runs(rule)).some((r) => r.status === 'queued' || r.status === 'running'); i++) await sleep(100);
    }

    // Distribution: digest for digest, the index, both children and the referrer.
    assert.equal(await digestAt(distribution.url, 'release/app', '1.0', TARGET_USER), app.manifest.digest);
    for (const child of app.images) assert.equal(await digestAt(distribution.url, 'release/app', child.manifest.digest, TARGET_USER), child.manifest.digest);
    assert.equal(await digestAt(distribution.url, 'release/app', sbom.manifest.digest, TARGET_USER), sbom.manifest.digest);
    for (const [digest, bytes] of app.blobs) {
      const blob = await get(`${distribution.url}/v2/release/app/blobs/${digest}`, { auth: TARGET_USER });
      assert.equal(blob.status, 200);
      assert.equal(blob.body.length, bytes.length);
    }

    // The second Wharf (token auth): renamed by the namespace, the referrer listed by its API.
    const token = await tokenFor(wharfTarget, 'repository:mirror/app:pull');
    assert.equal(await digestAt(wharfTarget.url, 'mirror/app', '1.0', undefined, token), app.manifest.digest);
    const referrers = await get(`${wharfTarget.url}/v2/mirror/app/referrers/${app.manifest.digest}`, { bearer: token });
    assert.equal(referrers.status, 200);
    assert.deepEqual(referrers.json<{ manifests: Array<{ digest: string }> }>().manifests.map((m) => m.digest), [sbom.manifest.digest]);
  });

  test('blobs the target holds are not sent again: HEAD skips them, a cross-repository mount links them', async () => {
    const api = adminApi(source);
    const before = (await api.runs('to-distribution')).length;
    distProxy.reset();
    // 1.1 shares the amd64 image (and so its layers) with 1.0; tools/cli shares a layer with it.
    const shared = app.images[0]!;
    const fresh = ociImage({ layers: [randomBlob(70_000)], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const next = ociIndex([shared, fresh]);
    await pushImage(source.url, 'release/app', '1.1', next, { auth: ADMIN });
    const run = await waitForTriggeredRun(api, 'to-distribution', before);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    for (const layer of shared.layers) assert.deepEqual(uploadsOf(distProxy, layer.digest), [], `shared layer ${layer.digest} not uploaded again`);
    assert.deepEqual(uploadsOf(distProxy, fresh.layers[0]!.digest).length, 1, 'the new layer is uploaded once');
    assert.ok(!distProxy.requests.some((r) => r.startsWith('PUT ') && r.includes(`/manifests/${shared.manifest.digest}`)), 'the shared child manifest is not sent again');

    const cli = ociImage({ layers: [shared.layers[0]!.bytes, randomBlob(3_000)] });
    distProxy.reset();
    const beforeCli = (await api.runs('to-distribution')).length;
    await pushImage(source.url, 'release/tools/cli', '1.0', cli, { auth: ADMIN });
    const cliRun = await waitForTriggeredRun(api, 'to-distribution', beforeCli);
    assert.equal(cliRun.status, 'succeeded', JSON.stringify(cliRun));
    assert.ok(distProxy.requests.some((r) => r.startsWith('POST /v2/release/tools/cli/blobs/uploads/?') && r.includes(`mount=${encodeURIComponent(shared.layers[0]!.digest)}`)), distProxy.requests.join('\n'));
    assert.deepEqual(uploadsOf(distProxy, shared.layers[0]!.digest), [], 'the shared layer is mounted, not uploaded');
    assert.equal(cliRun.blobs.skipped, 1, 'the mounted layer counts as skipped');
    assert.equal(await digestAt(distribution.url, 'release/tools/cli', '1.0', TARGET_USER), cli.manifest.digest);
  });

  test('a promotion into release replicates the promoted image, as a run triggered by the promotion', async () => {
    const api = adminApi(source);
    await api.ok('POST', '/projects', { name: 'dev' });
    const candidate = ociImage({ layers: [randomBlob(40_000)] });
    await pushImage(source.url, 'dev/app', '2.0', candidate, { auth: ADMIN });
    const before = (await api.runs('to-distribution')).length;
    await api.ok('POST', '/promotions', { source: { repository: 'dev/app', reference: '2.0' }, target: { repository: 'release/app' } });
    const run = await waitForTriggeredRun(api, 'to-distribution', before);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.trigger, 'promotion');
    assert.equal(await digestAt(distribution.url, 'release/app', '2.0', TARGET_USER), candidate.manifest.digest);
    assert.equal(await digestAt(distribution.url, 'dev/app', '2.0', TARGET_USER), undefined, 'dev is not replicated');
  });

  test('an unreachable target and wrong credentials fail clearly in the run log; the other rule is unaffected', async () => {
    const api = adminApi(source);
    await api.createRule({ name: 'nowhere', kind: 'push', push: { project: 'release', target: { url: 'http://127.0.0.1:9' }, triggers: [] } });
    await api.createRule({ name: 'wrong-password', kind: 'push', push: { project: 'release', target: { url: distribution.url }, triggers: [] }, credentials: { username: TARGET_USER.username, password: 'not-it' } });
    const [nowhere, denied, fine] = await Promise.all([api.runAndWait('nowhere'), api.runAndWait('wrong-password'), api.runAndWait('to-distribution')]);
    assert.equal(nowhere.run.status, 'failed');
    assert.match(nowhere.run.error ?? '', /target nowhere \(http:\/\/127\.0\.0\.1:9\) is unreachable: ECONNREFUSED/);
    assert.ok(nowhere.items.every((i) => i.status === 'failed'));
    assert.equal(denied.run.status, 'failed');
    assert.match(denied.run.error ?? '', /target wrong-password .* refused the credentials/);
    assert.equal(denied.items[0]!.attempts, 1, 'refused credentials are not retried');
    assert.equal(fine.run.status, 'succeeded', JSON.stringify(fine.run));
    assert.deepEqual(new Set(Object.values(byReference(fine.items))), new Set(['skipped']), 'everything is already there');
  });

  test('credentials are never returned by the API', async () => {
    const api = adminApi(source);
    const rule = (await api.ok('GET', '/replication/rules/to-distribution')).text();
    assert.ok(!rule.includes(TARGET_USER.password) && !rule.includes(TARGET_USER.username), rule);
    assert.match(rule, /"hasCredentials":true/);
    const all = (await api.ok('GET', '/replication/rules')).text();
    assert.ok(!all.includes(TARGET_USER.password) && !all.includes(TARGET_ADMIN.password));

    // At rest: sealed in the database, neither the user nor the password readable in it.
    const db = new Database(path.join(source.dataDir, 'wharf.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT name, spec, credentials FROM replication_rules').all() as Array<{ name: string; spec: string; credentials: string | null }>;
      const sealed = rows.find((r) => r.name === 'to-distribution')!.credentials;
      assert.ok(sealed !== null && sealed.length > 0, 'the credentials are stored');
      for (const row of rows) {
        const stored = `${row.spec} ${row.credentials ?? ''}`;
        for (const secret of [TARGET_USER.username, TARGET_USER.password, TARGET_ADMIN.password]) assert.ok(!stored.includes(secret), `${row.name}: ${secret} stored in clear`);
      }
    } finally {
      db.close();
    }
  });
});
