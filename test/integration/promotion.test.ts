/**
 * Promotion through the API, beyond the skopeo scenario: referrers of referrers and cosign-style
 * tag attachments come along, a promotion by digest sets no tag, promoting again is harmless,
 * an immutable target tag refuses another digest, unknown sources are 404, the promotion and
 * tag.moved events reach a webhook, and stage rules are validated.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN, adminEnv, api, apiOk } from '../api/auth-support.js';
import { assertError } from '../api/support.js';
import { get, pushImage } from '../fixtures/http.js';
import { multiPlatformImage, ociArtifact, ociImage, randomBlob } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { startReceiver } from '../fixtures/webhook-receiver.js';
import { webhookTestConfig } from './webhook-support.js';

interface Answer {
  digest: string;
  manifests: number;
  referrers: number;
  blobs: number;
  target: { repository: string; tag: string | null };
}

test('promotion: referrers of referrers, tag attachments, by digest, again, immutable targets, events, rules', { timeout: 120_000 }, async (t) => {
  const srv = await startWharfFor(t, { config: webhookTestConfig, env: adminEnv });
  const url = srv.url;
  for (const project of ['dev', 'qa']) await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: project } });
  const rx = await startReceiver(t);
  const hook = await apiOk<{ secret: string }>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'qa', url: rx.url('/qa'), events: ['promotion', 'tag.moved'] } });
  rx.secrets.set('/qa', hook.secret);

  const index = multiPlatformImage(800);
  await pushImage(url, 'dev/app', '2.0', index, { auth: ADMIN });
  const subject = { mediaType: index.manifest.mediaType, digest: index.manifest.digest, size: index.manifest.size };
  const signature = ociArtifact(subject, 'application/vnd.dev.cosign.artifact.sig.v1+json');
  const attestation = ociArtifact({ mediaType: signature.manifest.mediaType, digest: signature.manifest.digest, size: signature.manifest.size }, 'application/vnd.example.attestation.v1');
  await pushImage(url, 'dev/app', signature.manifest.digest, signature, { auth: ADMIN });
  await pushImage(url, 'dev/app', attestation.manifest.digest, attestation, { auth: ADMIN });
  const cosignTag = `${index.manifest.digest.replace(':', '-')}.sig`;
  const cosign = ociImage({ layers: [randomBlob(100)] });
  await pushImage(url, 'dev/app', cosignTag, cosign, { auth: ADMIN });
  const promote = (body: unknown) => api(url, 'POST', '/promotions', { auth: ADMIN, body });

  await t.test('everything attached comes along', async () => {
    const r = await promote({ source: { repository: 'dev/app', reference: '2.0' }, target: { repository: 'qa/app' } });
    assert.equal(r.status, 201, r.text());
    const answer = r.json<Answer>();
    assert.deepEqual([answer.manifests, answer.referrers, answer.target.tag], [6, 2, '2.0'], 'index, 2 platforms, signature, its attestation, the cosign attachment');
    const ofSignature = await get(`${url}/v2/qa/app/referrers/${signature.manifest.digest}`, { auth: ADMIN });
    assert.deepEqual(ofSignature.json<{ manifests: Array<{ digest: string }> }>().manifests.map((m) => m.digest), [attestation.manifest.digest]);
    const attached = await get(`${url}/v2/qa/app/manifests/${cosignTag}`, { auth: ADMIN, headers: { accept: cosign.manifest.mediaType } });
    assert.equal(attached.status, 200, 'the cosign tag attachment is in the target too');
    for (const [digest] of index.blobs) assert.equal((await get(`${url}/v2/qa/app/blobs/${digest}`, { auth: ADMIN })).status, 200);
  });

  await t.test('by digest: no tag; again: harmless', async () => {
    const r = await promote({ source: { repository: 'dev/app', reference: index.manifest.digest }, target: { repository: 'qa/bydigest' } });
    assert.equal(r.status, 201, r.text());
    assert.equal(r.json<Answer>().target.tag, null);
    assert.deepEqual((await get(`${url}/v2/qa/bydigest/tags/list`, { auth: ADMIN })).json<{ tags: string[] }>().tags, [cosignTag]);
    const again = await promote({ source: { repository: 'dev/app', reference: '2.0' }, target: { repository: 'qa/app' } });
    assert.equal(again.status, 201, again.text());
  });

  await t.test('an immutable target tag refuses another digest; unknown sources are 404', async () => {
    await apiOk(url, 'PUT', '/projects/qa/rules', { auth: ADMIN, body: { immutableTags: ['2.*'] } });
    const other = ociImage({ layers: [randomBlob(300)] });
    await pushImage(url, 'dev/app', 'other', other, { auth: ADMIN });
    const refused = assertError(await promote({ source: { repository: 'dev/app', reference: 'other' }, target: { repository: 'qa/app', tag: '2.0' } }), 403, 'DENIED');
    assert.match(refused.errors[0]!.message, /tag qa\/app:2\.0 is immutable \(rule: immutable tags 2\.\* of project qa\)/);
    assertError(await promote({ source: { repository: 'dev/app', reference: 'nope' }, target: { repository: 'qa/app' } }), 404, 'MANIFEST_UNKNOWN');
    assertError(await promote({ source: { repository: 'dev/app', reference: 'other' } }), 400, 'INVALID_REQUEST');
    await assert.rejects(pushImage(url, 'qa/app', '2.0', other, { auth: ADMIN }), /manifest 2\.0: 403 .*DENIED/, 'a push cannot move it either');
  });

  await t.test('the promotion and tag.moved events reach the target project’s webhook', async () => {
    const moved = ociImage({ layers: [randomBlob(300)] });
    await pushImage(url, 'dev/app', 'latest', moved, { auth: ADMIN });
    await promote({ source: { repository: 'dev/app', reference: 'latest' }, target: { repository: 'qa/app' } });
    const next = ociImage({ layers: [randomBlob(300)] });
    await pushImage(url, 'dev/app', 'latest', next, { auth: ADMIN });
    await promote({ source: { repository: 'dev/app', reference: 'latest' }, target: { repository: 'qa/app' } });
    await rx.waitFor((all) => all.some((r) => r.type === 'tag.moved'), 20_000, 'tag.moved');
    type Promoted = { actor: string; data: { source: { repository: string }; target: { repository: string; tag: string | null }; digest: string } };
    const promotion = rx.received.map((r) => r.json as Promoted).find((e) => e.data.target?.tag === '2.0')!;
    assert.equal(promotion.actor, ADMIN.username);
    assert.deepEqual([promotion.data.source.repository, promotion.data.target.repository, promotion.data.target.tag, promotion.data.digest], ['dev/app', 'qa/app', '2.0', index.manifest.digest]);
    const tagMoved = rx.received.find((r) => r.type === 'tag.moved')!.json as { data: { repository: string; tag: string; previous: string; digest: string; via: string } };
    assert.deepEqual(tagMoved.data, { repository: 'qa/app', tag: 'latest', previous: moved.manifest.digest, digest: next.manifest.digest, via: 'promotion' });
    assert.ok(rx.received.every((r) => r.signed));
  });

  await t.test('stage rules are validated and readable by those who may pull', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ promoteMinRole: 'boss' }, /promoteMinRole/],
      [{ promoteFrom: 'qa' }, /another project/],
      [{ promoteFrom: 'dev/app' }, /project name/],
      [{ immutableTags: ['v[0-9]'] }, /tag characters/],
    ];
    for (const [body, why] of bad) {
      const r = assertError(await api(url, 'PUT', '/projects/qa/rules', { auth: ADMIN, body }), 400, 'INVALID_REQUEST', JSON.stringify(body));
      assert.match(r.errors[0]!.message, why);
    }
    const stranger = { username: 'stranger', password: 'stranger-password' };
    await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: stranger.username, password: stranger.password } });
    assertError(await api(url, 'GET', '/projects/qa/rules', { auth: stranger }), 403, 'DENIED');
    assertError(await api(url, 'GET', '/projects/nope/rules', { auth: ADMIN }), 404, 'NOT_FOUND');
    const rules = await apiOk<{ immutableTags: string[]; promoteMinRole: string | null; updatedBy: string }>(url, 'GET', '/projects/qa/rules', { auth: ADMIN });
    assert.deepEqual([rules.immutableTags, rules.promoteMinRole, rules.updatedBy], [['2.*'], null, ADMIN.username]);
  });
});
