/**
 * The delivery flow in the console, in a real headless Chromium (auth mode basic): promote an
 * image from its page, read its promotion history, see its lineage (built on, used by, the stale
 * badge once the base moves), set a project's stage rules, create a webhook (its secret shown
 * once), read its delivery log and redeliver a failed delivery. Screenshots land in docs/console/.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN, adminEnv, apiOk } from '../api/auth-support.js';
import { pushImage } from '../fixtures/http.js';
import { multiPlatformImage, ociImage, randomBlob } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { startReceiver } from '../fixtures/webhook-receiver.js';
import { webhookTestConfig } from '../integration/webhook-support.js';
import { browserSkipReason, launchBrowser, screenshot, signIn } from './console-support.js';

test('console: promote, history, lineage, stage rules, webhooks and deliveries', { skip: browserSkipReason(), timeout: 240_000 }, async (t) => {
  const srv = await startWharfFor(t, { config: webhookTestConfig, env: adminEnv });
  const url = srv.url;
  for (const project of ['dev', 'qa', 'base', 'apps']) await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: project } });
  const app = multiPlatformImage(2000);
  await pushImage(url, 'dev/app', '1.0', app, { auth: ADMIN });
  const jdk = ociImage({ layers: [randomBlob(2000), randomBlob(2000)] });
  const service = ociImage({ layers: [...jdk.layers.map((l) => l.bytes), randomBlob(1000)] });
  await pushImage(url, 'base/jdk', '8', jdk, { auth: ADMIN });
  await pushImage(url, 'apps/service', '1', service, { auth: ADMIN });

  const browser = await launchBrowser(t, url);
  const page = await browser.newPage();
  await signIn(page, url, { name: ADMIN.username, password: ADMIN.password });

  await t.test('promote an image from its page; the target shows its history', async () => {
    await page.goto(`${url}/repositories/dev/app/-/1.0`);
    await page.getByRole('button', { name: 'Promote' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Target repository').fill('qa/app');
    await dialog.getByLabel('Note').fill('https://ci.example.com/runs/7');
    await screenshot(page, 'promote');
    await dialog.getByRole('button', { name: 'Promote' }).click();
    await dialog.getByText('no bytes copied').waitFor();
    assert.match(await dialog.getByRole('status').innerText(), /Promoted to qa\/app:1\.0: 3 manifest\(s\), 0 referrer\(s\)/);
    await dialog.getByRole('link', { name: 'qa/app:1.0' }).click();
    await page.getByRole('heading', { name: 'qa/app:1.0' }).waitFor();
    const history = page.locator('ol.promotion-history li');
    await history.nth(1).waitFor();
    const lines = await history.allInnerTexts();
    assert.match(lines[0]!, /^pushed to dev\/app:1\.0 by root/);
    assert.match(lines[1]!, /^promoted to qa\/app:1\.0 from dev\/app by root/);
    assert.match(lines[1]!, /https:\/\/ci\.example\.com\/runs\/7/);
  });

  await t.test('a refused promotion shows the stage rule', async () => {
    await page.goto(`${url}/projects/qa`);
    const rules = page.getByRole('region', { name: 'Stage rules and immutable tags' });
    await rules.getByLabel(/Only images promoted into this project first/).fill('staging');
    await rules.getByLabel(/Immutable tags/).fill('1.*, release-*');
    await rules.getByRole('button', { name: 'Save rules' }).click();
    await rules.getByText('Rules saved.').waitFor();
    const stored = await apiOk<{ promoteFrom: string; immutableTags: string[] }>(url, 'GET', '/projects/qa/rules', { auth: ADMIN });
    assert.deepEqual([stored.promoteFrom, stored.immutableTags], ['staging', ['1.*', 'release-*']]);
    await page.goto(`${url}/repositories/dev/app/-/1.0`);
    await page.getByRole('button', { name: 'Promote' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Target repository').fill('qa/other');
    await dialog.getByRole('button', { name: 'Promote' }).click();
    await dialog.getByRole('alert').getByText(/stage rule of project qa: only digests promoted into staging may be promoted here/).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  await t.test('lineage: built on, used by, and the stale badge once the base moves', async () => {
    await page.goto(`${url}/repositories/apps/service/-/1`);
    const lineage = page.getByRole('region', { name: 'Lineage' });
    await lineage.locator('ol.built-on li').first().waitFor();
    assert.match(await lineage.locator('ol.built-on').innerText(), /base\/jdk:8 · found by its layers/);
    assert.equal(await page.locator('.chip.stale').count(), 0, 'not stale yet');
    await page.goto(`${url}/repositories/base/jdk/-/8`);
    await page.getByRole('region', { name: 'Lineage' }).locator('ul.used-by li').getByText('apps/service:1').waitFor();

    await pushImage(url, 'base/jdk', '8', ociImage({ layers: [jdk.layers[0]!.bytes, randomBlob(2000)] }), { auth: ADMIN });
    await page.goto(`${url}/repositories/apps/service/-/1`);
    const badge = page.locator('main > .chip.stale');
    await badge.waitFor();
    assert.match(await badge.innerText(), /stale: base\/jdk:8 now points at sha256:/);
    await screenshot(page, 'lineage');
  });

  const rx = await startReceiver(t);
  await t.test('webhooks: create (secret shown once), the delivery log, redeliver', async () => {
    rx.respond = () => 500;
    await page.goto(`${url}/projects/dev`);
    await page.getByRole('link', { name: 'Webhooks of dev' }).click();
    await page.getByRole('heading', { name: 'Webhooks of dev' }).waitFor();
    await page.getByLabel('Receiver URL').fill(rx.url('/console'));
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const secret = page.locator('.secret .command code');
    await secret.waitFor();
    rx.secrets.set('/console', (await secret.innerText()).trim());
    await page.getByRole('link', { name: rx.url('/console') }).waitFor();

    await pushImage(url, 'dev/app', '2.0', ociImage({ layers: [randomBlob(500)] }), { auth: ADMIN });
    await rx.waitFor((all) => all.filter((r) => r.type === 'push').length >= 4, 30_000, 'four failed attempts');
    await page.getByRole('link', { name: rx.url('/console') }).click();
    const rows = page.locator('table.deliveries tbody tr');
    for (let i = 0; i < 100 && !/failed/.test(await rows.first().innerText().catch(() => '')); i++) {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(await rows.first().innerText(), /push[\s\S]*failed[\s\S]*4[\s\S]*HTTP 500[\s\S]*receiver says no/);
    await screenshot(page, 'webhook-deliveries');

    rx.respond = () => 200;
    await rows.first().getByRole('button', { name: /^Redeliver push/ }).click();
    await page.getByText('The push event is queued again.').waitFor();
    await rx.waitFor((all) => all.some((r) => r.type === 'push' && r.status === 200), 20_000, 'the redelivery');
    for (let i = 0; i < 100 && !/delivered/.test(await rows.first().innerText()); i++) {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(await rows.first().innerText(), /push[\s\S]*redelivery[\s\S]*delivered[\s\S]*1/);
    assert.ok(rx.received.every((r) => r.signed), 'every delivery was signed with the secret the console showed');
    assert.deepEqual(browser.problems, []);
  });
});
