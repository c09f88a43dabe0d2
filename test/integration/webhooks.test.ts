/**
 * Webhooks end to end against a real server and a receiver in this process: endpoint management
 * (secrets never shown twice, SSRF refusals, who may), signed deliveries of push / tag.moved /
 * delete, retries with backoff after 500s, the delivery log and redeliver, pull events only for
 * endpoints that want them, and CNCF Distribution's envelope.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { del, get, pushImage } from '../fixtures/http.js';
import { ociImage, randomBlob } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { startReceiver } from '../fixtures/webhook-receiver.js';
import { ADMIN, adminEnv, api, apiOk } from '../api/auth-support.js';
import { assertError } from '../api/support.js';
import { webhookTestConfig } from './webhook-support.js';


interface Created {
  webhook: { id: string; events: string[]; url: string; format: string };
  secret?: string;
}
interface DistributionEvent {
  action: string;
  target: { repository: string; digest: string; tag?: string; length: number; url: string };
  actor: { name?: string };
  request: { method: string };
  source: { instanceID: string };
}
interface DeliveryRow {
  id: string;
  event: { id: string; type: string };
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  redeliveryOf: string | null;
}

test('webhooks: management, signed deliveries, retries, log, redeliver, pulls, Distribution envelope', { timeout: 120_000 }, async (t) => {
  const srv = await startWharfFor(t, { config: webhookTestConfig, env: adminEnv });
  const url = srv.url;
  const rx = await startReceiver(t);
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'dev' } });
  const dev = { username: 'dana', password: 'dana-password-1' };
  await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: dev.username, password: dev.password } });
  await apiOk(url, 'PUT', `/projects/dev/members/${dev.username}`, { auth: ADMIN, body: { role: 'developer' } });

  await t.test('endpoint management: who may, what is refused, the secret shown once', async () => {
    assertError(await api(url, 'POST', '/webhooks', { auth: dev, body: { project: 'dev', url: rx.url('/x') } }), 403, 'DENIED', 'a developer');
    assertError(await api(url, 'POST', '/webhooks', { body: { project: 'dev', url: rx.url('/x') } }), 401, 'UNAUTHORIZED', 'anonymous');
    const refused = [
      { url: 'http://169.254.169.254/latest/meta-data/', why: /private or reserved/ },
      { url: 'http://10.1.2.3/hook', why: /private or reserved/ },
      { url: 'ftp://example.com/hook', why: /http or https/ },
      { url: 'http://user:pw@example.com/hook', why: /credentials/ },
    ];
    for (const { url: target, why } of refused) {
      const body = assertError(await api(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: target } }), 400, 'INVALID_REQUEST', target);
      assert.match(body.errors[0]!.message, why);
    }
    const wrongType = await api(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/x'), format: 'distribution', events: ['base.updated'] } });
    assert.match(assertError(wrongType, 400, 'INVALID_REQUEST').errors[0]!.message, /distribution format carries only/);

    const created = await apiOk<Created>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/tmp') } });
    assert.ok(created.secret && created.secret.length >= 32, 'a generated secret comes back once');
    assert.deepEqual(created.webhook.events, ['push', 'delete', 'promotion', 'tag.moved', 'base.updated', 'quota.warning', 'gc.finished'], 'default: every type but pull');
    const shown = await api(url, 'GET', `/webhooks/${created.webhook.id}`, { auth: ADMIN });
    assert.equal(shown.status, 200);
    assert.doesNotMatch(shown.text(), new RegExp(created.secret!), 'the secret is never shown again');
    assert.doesNotMatch((await api(url, 'GET', '/webhooks?project=dev', { auth: ADMIN })).text(), /secret/);
    const chosen = await apiOk<Created>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/tmp2'), secret: 'a-chosen-secret-of-length' } });
    assert.equal(chosen.secret, undefined, 'a chosen secret is not echoed');
    const rotated = await apiOk<Created>(url, 'PATCH', `/webhooks/${chosen.webhook.id}`, { auth: ADMIN, body: { rotateSecret: true, enabled: false } });
    assert.ok(rotated.secret && rotated.secret !== 'a-chosen-secret-of-length');
    assertError(await api(url, 'GET', `/webhooks/${created.webhook.id}`, { auth: dev }), 403, 'DENIED', 'a developer reads an endpoint');
    assertError(await api(url, 'GET', '/webhooks', { auth: dev }), 403, 'DENIED', 'a developer lists all endpoints');
    for (const id of [created.webhook.id, chosen.webhook.id]) await apiOk(url, 'DELETE', `/webhooks/${id}`, { auth: ADMIN });
    assertError(await api(url, 'GET', `/webhooks/${created.webhook.id}`, { auth: ADMIN }), 404, 'NOT_FOUND');
  });

  const hook = await apiOk<Created>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/main') } });
  rx.secrets.set('/main', hook.secret!);
  const distribution = await apiOk<Created>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/dist'), format: 'distribution', events: ['push', 'delete'] } });
  rx.secrets.set('/dist', distribution.secret!);
  const image = ociImage({ layers: [randomBlob(2000)] });
  const deliveries = (id: string) => apiOk<{ total: number; deliveries: DeliveryRow[] }>(url, 'GET', `/webhooks/${id}/deliveries`, { auth: ADMIN });

  await t.test('a push is delivered signed, with who pushed it', async () => {
    await pushImage(url, 'dev/app', '1.0', image, { auth: dev });
    await rx.waitFor((all) => all.some((r) => r.path === '/main' && r.type === 'push'));
    const push = rx.received.find((r) => r.path === '/main' && r.type === 'push')!;
    assert.ok(push.signed, 'the signature verifies with the secret');
    assert.equal(push.headers['content-type'], 'application/json');
    const event = push.json as { id: string; type: string; project: string; actor: string; data: Record<string, unknown> };
    assert.equal(event.type, 'push');
    assert.equal(event.project, 'dev');
    assert.equal(event.actor, 'dana');
    assert.equal(push.eventId, event.id);
    assert.deepEqual(event.data, { repository: 'dev/app', digest: image.manifest.digest, mediaType: image.manifest.mediaType, size: image.manifest.size, tag: '1.0' });
  });

  await t.test('the Distribution envelope, for tools that consume Distribution notifications', async () => {
    await rx.waitFor((all) => all.some((r) => r.path === '/dist'));
    const envelope = rx.received.find((r) => r.path === '/dist')!;
    assert.ok(envelope.signed);
    assert.equal(envelope.headers['content-type'], 'application/vnd.docker.distribution.events.v1+json');
    const { events } = envelope.json as { events: DistributionEvent[] };
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.equal(e.action, 'push');
    assert.equal(e.target.repository, 'dev/app');
    assert.equal(e.target.digest, image.manifest.digest);
    assert.equal(e.target.tag, '1.0');
    assert.equal(e.target.length, image.manifest.size);
    assert.equal(e.target.url, `${url}/v2/dev/app/manifests/${image.manifest.digest}`);
    assert.equal(e.actor.name, 'dana');
    assert.equal(e.request.method, 'PUT');
    assert.ok(e.source.instanceID);
  });

  await t.test('a receiver that answers 500 sees retries with backoff, then success; the log shows it', async () => {
    rx.respond = (r) => (r.path === '/main' && r.type === 'tag.moved' && r.attempt <= 2 ? 500 : 200);
    const next = ociImage({ layers: [randomBlob(2000)] });
    await pushImage(url, 'dev/app', '1.0', next, { auth: dev });
    await rx.waitFor((all) => all.some((r) => r.type === 'tag.moved' && r.status === 200), 30_000, 'tag.moved delivered');
    const tries = rx.received.filter((r) => r.type === 'tag.moved');
    assert.deepEqual(tries.map((r) => r.status), [500, 500, 200]);
    assert.ok(tries.every((r) => r.signed && r.delivery === tries[0]!.delivery), 'the same delivery, signed every time');
    const moved = tries[2]!.json as { data: { previous: string; digest: string; tag: string } };
    assert.deepEqual([moved.data.previous, moved.data.digest, moved.data.tag], [image.manifest.digest, next.manifest.digest, '1.0']);
    const row = (await deliveries(hook.webhook.id)).deliveries.find((d) => d.id === tries[0]!.delivery)!;
    assert.equal(row.status, 'delivered');
    assert.equal(row.attempts, 3);
    assert.equal(row.lastStatus, 200);
    rx.respond = () => 200;
  });

  await t.test('a receiver that always fails: the delivery gives up after maxAttempts; redeliver sends it again', async () => {
    rx.respond = (r) => (r.type === 'delete' && r.path === '/main' ? 503 : 200);
    const gone = await del(`${url}/v2/dev/app/manifests/${image.manifest.digest}`, { auth: ADMIN });
    assert.equal(gone.status, 202);
    const failed = async () => (await deliveries(hook.webhook.id)).deliveries.find((d) => d.event.type === 'delete' && d.status === 'failed');
    for (let i = 0; i < 200 && !(await failed()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const row = (await failed())!;
    assert.ok(row, 'the delete delivery failed for good');
    assert.equal(row.attempts, 4);
    assert.equal(row.lastStatus, 503);
    assert.match(String(row.lastError), /HTTP 503: receiver says no/);
    assert.equal(rx.received.filter((r) => r.type === 'delete' && r.path === '/main').length, 4);
    const event = await apiOk<{ type: string; data: { digest: string } }>(url, 'GET', `/webhooks/${hook.webhook.id}/deliveries/${row.id}/event`, { auth: ADMIN });
    assert.equal(event.data.digest, image.manifest.digest);

    rx.respond = () => 200;
    const again = await api(url, 'POST', `/webhooks/${hook.webhook.id}/deliveries/${row.id}/redeliver`, { auth: ADMIN });
    assert.equal(again.status, 202, again.text());
    const redelivery = again.json<{ delivery: DeliveryRow }>().delivery;
    assert.equal(redelivery.redeliveryOf, row.id);
    await rx.waitFor((all) => all.some((r) => r.delivery === redelivery.id && r.status === 200), 20_000, 'the redelivery');
    const sent = rx.received.find((r) => r.delivery === redelivery.id)!;
    assert.equal(sent.eventId, rx.received.find((r) => r.delivery === row.id)!.eventId, 'the same event');
    assertError(await api(url, 'POST', `/webhooks/${hook.webhook.id}/deliveries/${row.id}/redeliver`, { auth: dev }), 403, 'DENIED');
  });

  await t.test('pulls write events only for endpoints that want them', async () => {
    const fresh = ociImage({ layers: [randomBlob(500)] });
    await pushImage(url, 'dev/pulled', 'v1', fresh, { auth: dev });
    const pull = () => get(`${url}/v2/dev/pulled/manifests/v1`, { auth: dev, headers: { accept: fresh.manifest.mediaType } });
    await rx.waitFor((all) => all.some((r) => r.path === '/main' && r.type === 'push' && (r.json as { data: { repository: string } }).data.repository === 'dev/pulled'));
    const totals = async () => [(await deliveries(hook.webhook.id)).total, (await deliveries(distribution.webhook.id)).total];
    const before = await totals();
    for (let i = 0; i < 3; i++) assert.equal((await pull()).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await totals(), before, 'no endpoint wants pulls: nothing written');
    await apiOk(url, 'PATCH', `/webhooks/${distribution.webhook.id}`, { auth: ADMIN, body: { events: ['push', 'pull', 'delete', 'promotion'] } });
    const pulls = await apiOk<Created>(url, 'POST', '/webhooks', { auth: ADMIN, body: { project: 'dev', url: rx.url('/pulls'), events: ['pull'] } });
    rx.secrets.set('/pulls', pulls.secret!);
    assert.equal((await pull()).status, 200);
    await rx.waitFor((all) => all.some((r) => r.path === '/pulls' && r.type === 'pull'), 20_000, 'a pull event');
    const event = rx.received.find((r) => r.path === '/pulls')!;
    assert.ok(event.signed);
    assert.deepEqual((event.json as { data: unknown }).data, { repository: 'dev/pulled', digest: fresh.manifest.digest, mediaType: fresh.manifest.mediaType, size: fresh.manifest.size, tag: 'v1' });
    assert.ok(rx.received.some((r) => r.path === '/dist' && (r.json as { events: Array<{ action: string }> }).events[0]!.action === 'pull'), 'the Distribution endpoint heard pulls too');
    assert.equal((await deliveries(hook.webhook.id)).total, before[0], 'the main endpoint still gets no pulls');
  });

  await t.test('every delivery that reached the receiver was signed', () => {
    assert.ok(rx.received.length > 5);
    for (const r of rx.received) assert.ok(r.signed, `${r.path} ${r.type} attempt ${r.attempt} is signed`);
  });
});
