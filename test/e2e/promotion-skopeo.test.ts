/**
 * dev → qa → release with real clients. skopeo pushes a two-platform image and a signature whose
 * subject is the index to dev/app:1.0; it is promoted to qa (with `wharf promote`) and release
 * (through the API) under stage rules: release takes testers and above, and only digests that
 * went through qa. No blob byte is written by the promotions, the digest stays, the signature
 * comes along, and the history names who did what. Then release's immutable tags refuse skopeo
 * and podman re-pushes and deletes, with the rule in the message.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { ADMIN, adminEnv, api, apiOk, type Creds } from '../api/auth-support.js';
import { assertError } from '../api/support.js';
import { metricValue } from '../api/ops-support.js';
import { runWharf } from '../fixtures/cli.js';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { del, get } from '../fixtures/http.js';
import { makeTestImages, ociArtifact, MEDIA } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { writeOciLayout } from './console-support.js';

const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

interface History {
  history: Array<{ action: string; actor: string | null; repository: string; tag: string | null; note: string | null; from: { repository: string | null } | null }>;
}

test('promotion dev → qa → release with skopeo, stage rules, no bytes copied; immutable release tags', { skip: missingClients('skopeo', 'podman'), timeout: 300_000 }, async (t) => {
  const srv = await startWharfFor(t, { config: { auth: { mode: 'basic' } }, env: adminEnv });
  const url = srv.url;
  const c = await createClientEnvFor(t, { registries: [srv.host] });
  const users: Record<string, Creds> = {};
  for (const name of ['alice', 'bob', 'carol']) {
    users[name] = { username: name, password: `${name}-password-1` };
    await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name, password: users[name]!.password } });
  }
  const roles: Array<[string, string, string]> = [
    ['dev', 'alice', 'developer'], ['qa', 'alice', 'developer'], ['release', 'alice', 'developer'],
    ['dev', 'bob', 'guest'], ['qa', 'bob', 'tester'],
    ['dev', 'carol', 'guest'], ['qa', 'carol', 'guest'], ['release', 'carol', 'tester'],
  ];
  for (const project of ['dev', 'qa', 'release']) await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: project } });
  for (const [project, user, role] of roles) await apiOk(url, 'PUT', `/projects/${project}/members/${user}`, { auth: ADMIN, body: { role } });
  const rules = await apiOk<{ promoteMinRole: string; promoteFrom: string; immutableTags: string[] }>(url, 'PUT', '/projects/release/rules', {
    auth: ADMIN,
    body: { promoteMinRole: 'tester', promoteFrom: 'qa', immutableTags: ['1.*', 'release-*'] },
  });
  assert.deepEqual([rules.promoteMinRole, rules.promoteFrom, rules.immutableTags], ['tester', 'qa', ['1.*', 'release-*']]);
  assertError(await api(url, 'PUT', '/projects/release/rules', { auth: users.carol, body: { immutableTags: [] } }), 403, 'DENIED', 'a tester sets rules');

  // alice pushes a two-platform image and signs it: the signature's subject is the index.
  const creds = (who: Creds) => `${who.username}:${who.password}`;
  const layout = await makeTestImages(path.join(c.dir, 'layout'), 4096);
  await c.skopeo(['copy', '--all', '--dest-creds', creds(users.alice!), `oci:${layout}:multi`, `docker://${srv.host}/dev/app:1.0`]);
  const index = (await c.skopeo(['inspect', '--raw', '--creds', creds(users.alice!), `docker://${srv.host}/dev/app:1.0`])).stdout;
  const indexDigest = sha256(index);
  const signature = ociArtifact({ mediaType: MEDIA.ociIndex, digest: indexDigest, size: Buffer.byteLength(index) }, SIGNATURE);
  const sigLayout = await writeOciLayout(path.join(c.dir, 'sig'), { sig: signature });
  await c.skopeo(['copy', '--dest-creds', creds(users.alice!), `oci:${sigLayout}:sig`, `docker://${srv.host}/dev/app@${signature.manifest.digest}`]);

  const writes = async () => {
    const text = (await get(`${url}/metrics`)).text();
    return { calls: metricValue(text, 'wharf_storage_writes_total'), bytes: metricValue(text, 'wharf_storage_written_bytes_total') };
  };
  const before = await writes();
  assert.ok(before.calls > 0 && before.bytes > 4096, 'the pushes did write through the driver');

  const promote = (who: Creds, from: string, reference: string, to: string, note?: string) =>
    api(url, 'POST', '/promotions', { auth: who, body: { source: { repository: from, reference }, target: { repository: to }, ...(note ? { note } : {}) } });

  await t.test('skipping qa is refused, naming the rule', async () => {
    const refused = assertError(await promote(users.carol!, 'dev/app', '1.0', 'release/app'), 403, 'DENIED');
    assert.match(refused.errors[0]!.message, /stage rule of project release: only digests promoted into qa may be promoted here/);
  });

  await t.test('bob promotes to qa with `wharf promote`', async () => {
    const run = await runWharf(['promote', `${srv.host}/dev/app:1.0`, 'qa/app', '--note', 'https://ci.example.com/runs/1'], {
      env: { ...process.env, WHARF_URL: url, WHARF_USER: 'bob', WHARF_PASSWORD: users.bob!.password },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`promoted dev/app:1.0 to qa/app:1.0 \\(${indexDigest}\\): 4 manifest\\(s\\), 1 referrer\\(s\\), \\d+ blob\\(s\\) linked, no bytes copied`));
    const denied = await runWharf(['promote', 'qa/app:1.0', 'release/app'], { env: { ...process.env, WHARF_URL: url, WHARF_USER: 'bob', WHARF_PASSWORD: users.bob!.password } });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /DENIED/);
  });

  await t.test('a developer cannot promote into release', async () => {
    const refused = assertError(await promote(users.alice!, 'qa/app', '1.0', 'release/app'), 403, 'DENIED');
    assert.match(refused.errors[0]!.message, /stage rule of project release: promoting into release needs role tester or above \(you are developer\)/);
  });

  await t.test('carol promotes to release: same digest, platforms and signature, no bytes written', async () => {
    const done = await promote(users.carol!, 'qa/app', '1.0', 'release/app', 'https://qa.example.com/reports/1');
    assert.equal(done.status, 201, done.text());
    const answer = done.json<{ digest: string; manifests: number; referrers: number; target: { tag: string } }>();
    assert.deepEqual([answer.digest, answer.manifests, answer.referrers, answer.target.tag], [indexDigest, 4, 1, '1.0']);
    assert.deepEqual(await writes(), before, 'no storage write and no byte written by any promotion');

    const released = await c.skopeo(['inspect', '--raw', '--creds', creds(users.carol!), `docker://${srv.host}/release/app:1.0`]);
    assert.equal(sha256(released.stdout), indexDigest, 'the digest is unchanged');
    await c.skopeo(['copy', '--all', '--src-creds', creds(users.carol!), `docker://${srv.host}/release/app:1.0`, `oci:${path.join(c.dir, 'out')}:1.0`]);
    const referrers = await get(`${url}/v2/release/app/referrers/${indexDigest}`, { auth: users.carol! });
    assert.equal(referrers.status, 200);
    assert.deepEqual(referrers.json<{ manifests: Array<{ digest: string; artifactType: string }> }>().manifests.map((m) => [m.digest, m.artifactType]), [[signature.manifest.digest, SIGNATURE]]);
  });

  await t.test("the image's history: pushed to dev by alice, promoted to qa by bob, to release by carol", async () => {
    const { history } = await apiOk<History>(url, 'GET', '/images/history?repository=release/app&reference=1.0', { auth: users.carol });
    assert.deepEqual(
      history.map((h) => `${h.action} ${h.repository}:${h.tag} by ${h.actor}${h.note ? ` (${h.note})` : ''}`),
      ['pushed dev/app:1.0 by alice', 'promoted qa/app:1.0 by bob (https://ci.example.com/runs/1)', 'promoted release/app:1.0 by carol (https://qa.example.com/reports/1)'],
    );
    const audit = await apiOk<{ events: Array<{ actor: string; action: string; repository: string }> }>(url, 'GET', '/audit?action=promote', { auth: ADMIN });
    assert.deepEqual(audit.events.map((e) => `${e.actor} ${e.repository}`).sort(), ['bob qa/app', 'carol release/app']);
  });

  await t.test('immutable release tags: skopeo and podman re-pushes and deletes are refused with the rule', async () => {
    const rule = /tag release\/app:1\.0 is immutable \(rule: immutable tags 1\.\* of project release\)/;
    const other = await makeTestImages(path.join(c.dir, 'other'), 1024);
    const repush = await c.skopeo(['copy', '--dest-creds', creds(ADMIN), `oci:${other}:amd64`, `docker://${srv.host}/release/app:1.0`], { allowFailure: true });
    assert.notEqual(repush.code, 0);
    assert.match(repush.stderr, rule, 'skopeo shows the rule');
    // Into podman's storage (a layout path with capitals is no image name podman accepts).
    await c.skopeo(['copy', `oci:${other}:amd64`, 'containers-storage:localhost/other:1']);
    const podman = await c.podman(['push', '--tls-verify=false', '--creds', creds(ADMIN), 'localhost/other:1', `docker://${srv.host}/release/app:1.0`], { allowFailure: true });
    assert.notEqual(podman.code, 0);
    assert.match(podman.stderr, rule, 'podman shows the rule');
    const removal = await c.skopeo(['delete', '--creds', creds(ADMIN), `docker://${srv.host}/release/app:1.0`], { allowFailure: true });
    assert.notEqual(removal.code, 0);
    assert.match(removal.stderr, /is held by the immutable tag release\/app:1\.0 \(rule: immutable tags 1\.\* of project release\)/, 'skopeo delete shows the rule');
    assertError(await del(`${url}/v2/release/app/manifests/1.0`, { auth: ADMIN }), 403, 'DENIED', 'DELETE of the tag');
    const child = JSON.parse(index) as { manifests: Array<{ digest: string }> };
    assertError(await del(`${url}/v2/release/app/manifests/${child.manifests[0]!.digest}`, { auth: ADMIN }), 403, 'DENIED', 'a platform manifest of the held index');
    assert.equal(sha256((await c.skopeo(['inspect', '--raw', '--creds', creds(ADMIN), `docker://${srv.host}/release/app:1.0`])).stdout), indexDigest, 'release/app:1.0 is untouched');
    // Tags outside the patterns move freely; the same digest may be pushed again.
    await c.skopeo(['copy', '--dest-creds', creds(ADMIN), `oci:${other}:amd64`, `docker://${srv.host}/release/app:latest`]);
    await c.skopeo(['copy', '--dest-creds', creds(ADMIN), `oci:${layout}:amd64`, `docker://${srv.host}/release/app:latest`]);
  });
});
