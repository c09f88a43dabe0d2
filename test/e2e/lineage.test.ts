/**
 * Base-image lineage with images built offline: base/os:1 from make-test-image.sh (pushed by
 * skopeo), base/jdk:8 on it, apps/billing on base/jdk:8 naming it in the OCI base annotations,
 * apps/search on it without annotations (pushed before its base, so the index must adopt it
 * later), and apps/web on another base. The index answers parents and children; a new
 * base/jdk:8 makes exactly the two JDK apps stale, and base.updated webhooks name them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ADMIN, adminEnv, apiOk, type Creds } from '../api/auth-support.js';
import { runWharf } from '../fixtures/cli.js';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { pushImage } from '../fixtures/http.js';
import { makeTestImages, ociImage, randomBlob, type Image } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { startReceiver } from '../fixtures/webhook-receiver.js';
import { webhookTestConfig } from '../integration/webhook-support.js';

interface Lineage {
  digest: string;
  builtOn: Array<{ repository: string | null; digest: string; tags: string[]; source: string; name: string | null; movedOn: Array<{ repository: string; tag: string; now: string }> }>;
  usedBy: Array<{ repository: string; digest: string; stale: boolean }>;
  stale: boolean;
  staleBecause: Array<{ repository: string; tag: string; was: string; now: string }>;
}
interface BaseUpdated {
  project: string;
  data: { repository: string; tag: string; previous: string; digest: string; staleDependents: Array<{ repository: string; digest: string; tags: string[] }> };
}

test('lineage: built on, used by, stale after the base moves, base.updated webhooks', { skip: missingClients('skopeo'), timeout: 240_000 }, async (t) => {
  const srv = await startWharfFor(t, { config: webhookTestConfig, env: adminEnv });
  const url = srv.url;
  const c = await createClientEnvFor(t, { registries: [srv.host] });
  for (const project of ['base', 'apps']) await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: project } });
  const rx = await startReceiver(t);
  const hooks: Array<[string, string | null]> = [['/apps', 'apps'], ['/base', 'base'], ['/all', null]];
  for (const [hookPath, project] of hooks) {
    const created = await apiOk<{ secret: string }>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project, url: rx.url(hookPath), events: ['base.updated'] } });
    rx.secrets.set(hookPath, created.secret);
  }

  // base/os:1: the amd64 image of make-test-image.sh, one layer.
  const layout = await makeTestImages(path.join(c.dir, 'os'), 2048);
  await c.skopeo(['copy', '--dest-creds', `${ADMIN.username}:${ADMIN.password}`, `oci:${layout}:amd64`, `docker://${srv.host}/base/os:1`]);
  const osManifest = JSON.parse((await c.skopeo(['inspect', '--raw', '--creds', `${ADMIN.username}:${ADMIN.password}`, `docker://${srv.host}/base/os:1`])).stdout) as { layers: Array<{ digest: string }> };
  const osLayerDigest = osManifest.layers[0]!.digest;
  const osLayer = await readFile(path.join(layout, 'blobs', 'sha256', osLayerDigest.slice('sha256:'.length)));

  const jdkLayer = randomBlob(3000);
  const push = (repo: string, tag: string, image: Image) => pushImage(url, repo, tag, image, { auth: ADMIN });
  const jdk8 = ociImage({ layers: [osLayer, jdkLayer] });
  const search = ociImage({ layers: [osLayer, jdkLayer, randomBlob(1000)] });
  const billing = ociImage({
    layers: [osLayer, jdkLayer, randomBlob(1000)],
    annotations: { 'org.opencontainers.image.base.name': `${srv.host}/base/jdk:8`, 'org.opencontainers.image.base.digest': jdk8.manifest.digest },
  });
  const node = ociImage({ layers: [randomBlob(1500), randomBlob(1500)] });
  const web = ociImage({ layers: [...node.layers.map((l) => l.bytes), randomBlob(1000)] });
  await push('apps/search', '1', search);
  await push('base/jdk', '8', jdk8);
  await push('apps/billing', '1', billing);
  await push('base/node', '20', node);
  await push('apps/web', '1', web);

  const lineage = (repository: string, reference: string, who: Creds = ADMIN) => apiOk<Lineage>(url, 'GET', `/images/lineage?repository=${repository}&reference=${reference}`, { auth: who });

  await t.test('built on, to the root', async () => {
    const s = await lineage('apps/search', '1');
    assert.deepEqual(s.builtOn.map((b) => [b.repository, b.tags, b.source]), [['base/jdk', ['8'], 'layers'], ['base/os', ['1'], 'layers']], 'the base pushed later was adopted');
    const b = await lineage('apps/billing', '1');
    assert.deepEqual(b.builtOn.map((x) => [x.repository, x.digest, x.source]), [['base/jdk', jdk8.manifest.digest, 'annotation'], ['base/os', s.builtOn[1]!.digest, 'layers']]);
    assert.equal(b.builtOn[0]!.name, `${srv.host}/base/jdk:8`);
    assert.deepEqual((await lineage('apps/web', '1')).builtOn.map((x) => x.repository), ['base/node']);
    assert.deepEqual((await lineage('base/os', '1')).builtOn, []);
    for (const app of ['apps/search', 'apps/billing', 'apps/web']) assert.equal((await lineage(app, '1')).stale, false, app);
  });

  await t.test('used by', async () => {
    const j = await lineage('base/jdk', '8');
    assert.deepEqual(j.usedBy.map((u) => u.repository).sort(), ['apps/billing', 'apps/search']);
    assert.deepEqual((await lineage('base/os', '1')).usedBy.map((u) => u.repository), ['base/jdk']);
    assert.deepEqual((await lineage('base/node', '20')).usedBy.map((u) => u.repository), ['apps/web']);
  });

  await t.test('a new base/jdk:8: exactly the two JDK apps are stale, and the webhooks name them', async () => {
    const jdk8u2 = ociImage({ layers: [osLayer, randomBlob(3000)] });
    await push('base/jdk', '8', jdk8u2);
    for (const app of ['apps/search', 'apps/billing']) {
      const l = await lineage(app, '1');
      assert.equal(l.stale, true, app);
      assert.deepEqual(l.staleBecause.map((r) => [r.repository, r.tag, r.was, r.now]), [['base/jdk', '8', jdk8.manifest.digest, jdk8u2.manifest.digest]], app);
    }
    assert.equal((await lineage('apps/web', '1')).stale, false);
    const old = await lineage('base/jdk', jdk8.manifest.digest);
    assert.deepEqual(old.usedBy.map((u) => [u.repository, u.stale]).sort(), [['apps/billing', true], ['apps/search', true]]);
    assert.deepEqual((await lineage('base/jdk', '8')).usedBy, [], 'nothing is built on the new base yet');

    await rx.waitFor((all) => all.filter((r) => r.type === 'base.updated').length >= 2, 20_000, 'base.updated deliveries');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = rx.received.filter((r) => r.type === 'base.updated');
    assert.ok(received.every((r) => r.signed));
    assert.deepEqual(received.map((r) => r.path).sort(), ['/all', '/apps'], "the base's project hears nothing: the stale apps are in another, private project");
    for (const r of received) {
      const event = r.json as unknown as BaseUpdated;
      assert.deepEqual([event.data.repository, event.data.tag, event.data.previous, event.data.digest], ['base/jdk', '8', jdk8.manifest.digest, jdk8u2.manifest.digest]);
      assert.deepEqual(event.data.staleDependents.map((d) => `${d.repository}:${d.tags.join(',')}@${d.digest}`).sort(), [
        `apps/billing:1@${billing.manifest.digest}`,
        `apps/search:1@${search.manifest.digest}`,
      ]);
    }
  });

  await t.test('only what the caller may see; `wharf lineage`', async () => {
    const dev = { username: 'appdev', password: 'appdev-password-1' };
    await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: dev.username, password: dev.password } });
    await apiOk(url, 'PUT', `/projects/apps/members/${dev.username}`, { auth: ADMIN, body: { role: 'developer' } });
    const hidden = await lineage('apps/search', '1', dev);
    assert.deepEqual(hidden.builtOn.map((b) => [b.repository, b.tags]), [[null, []]], 'a base in a project the caller cannot see has no name, and the chain stops');
    const run = await runWharf(['lineage', `${srv.host}/apps/search:1`], { env: { ...process.env, WHARF_URL: url, WHARF_USER: ADMIN.username, WHARF_PASSWORD: ADMIN.password } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^apps\/search:1 sha256:[0-9a-f]{64}  STALE\n/);
    assert.match(run.stdout, /base\/jdk sha256:.*\(layers\)  \[moved on: base\/jdk:8 now points at sha256:/);
    assert.match(run.stdout, /base\/os:1 sha256:/);
  });
});
