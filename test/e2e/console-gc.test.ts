/**
 * The console's garbage collection, retention and quota pages in a real headless Chromium: only
 * system admins see and run GC; a dry run and a real run from the buttons, each shown as a report;
 * a project's retention policy and quota set from its page.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pushImage, request } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { browserSkipReason, launchBrowser, screenshot, signIn } from './console-support.js';

const ADMIN = { name: 'root', password: 'correct-horse-battery' };
const DEV = { name: 'dana', password: 'developer-pass-1' };

test('console: GC for admins (dry run, run, reports), retention policy and quota of a project', { skip: browserSkipReason(), timeout: 180_000 }, async (t) => {
  const srv = await startWharfFor(t, {
    config: { auth: { mode: 'basic' }, gc: { schedule: '17 3 * * *', untaggedGraceHours: 0, graceSeconds: 0 } },
    env: { WHARF_ADMIN_USER: ADMIN.name, WHARF_ADMIN_PASSWORD: ADMIN.password },
  });
  const auth = { username: ADMIN.name, password: ADMIN.password };
  const admin = async (method: string, apiPath: string, body?: unknown) => {
    const r = await request(method, `${srv.url}/api/v1${apiPath}`, { auth, ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    assert.ok(r.status < 300, `${method} ${apiPath}: ${r.status} ${r.text()}`);
    return r;
  };
  await admin('POST', '/users', { name: DEV.name, password: DEV.password });
  await admin('POST', '/projects', { name: 'team' });
  await admin('PUT', `/projects/team/members/${DEV.name}`, { role: 'developer' });
  await pushImage(srv.url, 'team/app', 'v1', ociImage(), { auth });
  await pushImage(srv.url, 'team/app', 'v1', ociImage(), { auth }); // the first image is now untagged garbage

  const browser = await launchBrowser(t, srv.url);
  const page = await browser.newPage();

  await t.test('a developer sees no GC page and is refused its API', async () => {
    await signIn(page, srv.url, DEV);
    assert.equal(await page.getByRole('link', { name: 'Garbage collection' }).count(), 0);
    await page.goto(`${srv.url}/gc`);
    await page.getByText('Only system administrators run garbage collection.').waitFor();
    await page.getByRole('alert').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
  });

  await t.test('an admin runs a dry run, then GC, and reads both reports', async () => {
    await signIn(page, srv.url, ADMIN);
    await page.getByRole('link', { name: 'Garbage collection' }).click();
    await page.getByText('17 3 * * *').waitFor();
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('heading', { name: 'Dry run' }).waitFor();
    await page.getByText('dry run finished').waitFor();
    await page.getByRole('heading', { name: 'Manifests (1)' }).waitFor();
    await screenshot(page, 'gc-run');
    await page.getByRole('link', { name: 'Garbage collection' }).first().click();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('heading', { name: 'Garbage collection run' }).waitFor();
    await page.locator('.chip', { hasText: /^finished$/ }).waitFor();
    await page.goto(`${srv.url}/gc`);
    await page.locator('table tbody tr').nth(1).waitFor();
    assert.deepEqual(await page.locator('table tbody tr td:nth-child(3)').allInnerTexts(), ['finished', 'dry run finished']);
    await screenshot(page, 'gc');
  });

  await t.test("an admin sets the project's retention policy and quota", async () => {
    await page.goto(`${srv.url}/projects/team`);
    const form = page.getByRole('form', { name: 'Retention policy' });
    await form.getByLabel('Keep the newest tags').fill('5');
    await form.getByLabel('Remove tags matching').fill('pr-*, tmp-*');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('This project has its own policy.').waitFor();
    const policy = (await admin('GET', '/projects/team/policy')).json<{ policy: unknown }>();
    assert.deepEqual(policy.policy, { retention: { keepLatest: 5, dropPatterns: ['pr-*', 'tmp-*'] }, deleteUntagged: true });
    await page.getByRole('form', { name: 'Quota' }).getByLabel('Quota in MiB').fill('100');
    await page.getByRole('button', { name: 'Set quota' }).click();
    await page.getByText(/of its 104\.9 MB quota/).waitFor();
    assert.equal((await admin('GET', '/projects/team/quota')).json<{ limitBytes: number }>().limitBytes, 100 * 1024 * 1024);
    await screenshot(page, 'project-lifecycle');
    assert.deepEqual(browser.problems, []);
  });
});
