/**
 * The console with authentication (auth mode `token`, first admin from WHARF_ADMIN_USER /
 * WHARF_ADMIN_PASSWORD), in a real headless Chromium: the anonymous view of public projects, sign
 * in and out (session cookie + CSRF), delete a tag as maintainer, be refused as guest, create a
 * robot account whose secret is shown once and works with skopeo, filter the audit log.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { get, request } from '../fixtures/http.js';
import { makeTestImages } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { browserSkipReason, launchBrowser, screenshot, signIn } from './console-support.js';

const ADMIN = { name: 'root', password: 'correct-horse-battery' };
const MAINTAINER = { name: 'maya', password: 'maintainer-pass-1' };
const GUEST = { name: 'gus', password: 'guest-pass-12345' };

/** Waits until the audit table's rows (as text) satisfy `check` (the old page stays up while the next loads). */
async function waitForRows(page: Page, check: (rows: string[]) => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check(await page.locator('table.audit tbody tr').allInnerTexts())) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`audit rows never matched: ${(await page.locator('table.audit tbody tr').allInnerTexts()).join(' | ')}`);
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
}

test('console: sign in, roles, robots, audit (auth mode token)', { skip: browserSkipReason() ?? missingClients('skopeo'), timeout: 240_000 }, async (t) => {
  const srv = await startWharfFor(t, {
    config: { auth: { mode: 'token' } },
    env: { WHARF_ADMIN_USER: ADMIN.name, WHARF_ADMIN_PASSWORD: ADMIN.password },
  });
  const basic = 'Basic ' + Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64');
  const admin = async (method: string, apiPath: string, body?: unknown) => {
    const r = await request(method, `${srv.url}/api/v1${apiPath}`, {
      headers: { authorization: basic, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: Buffer.from(JSON.stringify(body)) } : {}),
    });
    assert.ok(r.status < 300, `${method} ${apiPath}: ${r.status} ${r.text()}`);
    return r;
  };
  for (const u of [MAINTAINER, GUEST]) await admin('POST', '/users', { name: u.name, password: u.password });
  await admin('POST', '/projects', { name: 'team', public: false });
  await admin('POST', '/projects', { name: 'pub', public: true });
  await admin('PUT', `/projects/team/members/${MAINTAINER.name}`, { role: 'maintainer' });
  await admin('PUT', `/projects/team/members/${GUEST.name}`, { role: 'guest' });

  const c = await createClientEnvFor(t, { registries: [srv.host] });
  const layout = await makeTestImages(path.join(c.dir, 'layout'), 1024);
  const creds = `--dest-creds=${ADMIN.name}:${ADMIN.password}`;
  await c.skopeo(['copy', creds, `oci:${layout}:amd64`, `docker://${srv.host}/team/app:v1`]);
  await c.skopeo(['copy', creds, `oci:${layout}:arm64`, `docker://${srv.host}/team/app:v2`]);
  await c.skopeo(['copy', creds, `oci:${layout}:amd64`, `docker://${srv.host}/pub/base:1`]);

  const browser = await launchBrowser(t, srv.url);
  const page = await browser.newPage();

  await t.test('anonymous: only public projects, private ones refused', async () => {
    await page.goto(`${srv.url}/`);
    await page.getByRole('link', { name: 'pub/base' }).waitFor();
    assert.deepEqual(await page.locator('table tbody th[scope=row]').allTextContents(), ['pub/base']);
    assert.equal((await get(`${srv.url}/api/v1/repositories/team/app/-/tags`)).status, 401);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Username').waitFor();
    await screenshot(page, 'sign-in');
  });

  await t.test('sign in: session cookie is HttpOnly and SameSite=Strict; wrong password refused', async () => {
    await page.getByLabel('Username').fill(ADMIN.name);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /invalid username or password/i }).waitFor();
    await signIn(page, srv.url, ADMIN);
    const session = (await browser.context.cookies(srv.url)).find((cookie) => cookie.name === 'wharf_session');
    assert.ok(session, 'a session cookie was set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate('document.cookie.includes("wharf_session")'), false, 'the page cannot read the session');
    await page.goto(`${srv.url}/repositories`);
    await page.getByRole('link', { name: 'team/app' }).waitFor();
  });

  await t.test('a cookie mutation without the CSRF header is refused', async () => {
    const status = await page.evaluate<number>(
      `fetch('/api/v1/repositories/team/app/-/tags/v2', { method: 'DELETE', credentials: 'same-origin' }).then((r) => r.status)`,
    );
    assert.equal(status, 403);
  });

  await t.test('projects: create a robot account, its secret shown once and usable', async () => {
    await page.goto(`${srv.url}/projects`);
    await page.getByRole('link', { name: 'team' }).waitFor();
    await screenshot(page, 'projects');
    await page.getByRole('link', { name: 'team' }).click();
    await page.getByRole('heading', { name: 'Robot accounts' }).waitFor();
    await page.getByLabel('Robot name').fill('ci');
    await page.getByLabel('Description').fill('CI pipeline');
    await page.getByRole('button', { name: 'Create robot' }).click();
    const shown = page.locator('.secret');
    await shown.waitFor();
    assert.match(await shown.innerText(), /shown only once/);
    const secret = (await shown.locator('code').innerText()).trim();
    assert.ok(secret.length >= 16, 'a secret is shown');
    await shown.getByRole('button', { name: 'Copy robot secret' }).click();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), secret);
    const robotRow = page.locator('tr', { hasText: 'robot$team+ci' });
    await robotRow.waitFor();
    assert.match(await robotRow.innerText(), /pull/);
    const inspect = await c.skopeo(['inspect', '--raw', `--creds=robot$team+ci:${secret}`, `docker://${srv.host}/team/app:v1`]);
    assert.match(inspect.stdout, /schemaVersion/);
    await shown.getByRole('button', { name: 'I have stored it' }).click();
    await shown.waitFor({ state: 'detached' });
    await page.reload();
    await robotRow.waitFor();
    assert.equal(await page.locator('main').innerText().then((text) => text.includes(secret)), false, 'the secret is gone after leaving');
    await screenshot(page, 'project');
  });

  await t.test('guest: deleting a tag is refused with the API error', async () => {
    await signOut(page);
    await signIn(page, srv.url, GUEST);
    await page.goto(`${srv.url}/repositories/team/app`);
    await page.getByRole('button', { name: 'Delete tag v1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete tag' }).click();
    const alert = page.getByRole('dialog').getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /denied|not allowed|permission/i);
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    const tags = (await get(`${srv.url}/api/v1/repositories/team/app/-/tags`, { headers: { authorization: basic } })).json() as { items: Array<{ name: string }> };
    assert.deepEqual(tags.items.map((x) => x.name).sort(), ['v1', 'v2']);
  });

  await t.test('maintainer: deletes a tag', async () => {
    await signOut(page);
    await signIn(page, srv.url, MAINTAINER);
    await page.goto(`${srv.url}/repositories/team/app`);
    await page.getByRole('button', { name: 'Delete tag v1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete tag' }).click();
    await page.getByRole('status').filter({ hasText: 'Tag v1 deleted.' }).waitFor();
    const tags = (await get(`${srv.url}/api/v1/repositories/team/app/-/tags`, { headers: { authorization: basic } })).json() as { items: Array<{ name: string }> };
    assert.deepEqual(tags.items.map((x) => x.name), ['v2']);
  });

  await t.test('audit log: filter by actor and action, then by project', async () => {
    await signOut(page);
    await signIn(page, srv.url, ADMIN);
    await page.goto(`${srv.url}/audit`);
    await page.locator('table.audit tbody tr').first().waitFor();
    await page.getByLabel('Actor').fill(MAINTAINER.name);
    await page.getByLabel('Action').fill('delete');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/actor=maya.*action=delete|action=delete.*actor=maya/);
    await waitForRows(page, (rows) => rows.length > 0 && rows.every((row) => row.includes('maya')));
    const rows = await page.locator('table.audit tbody tr').allInnerTexts();
    assert.equal(rows.length, 1, rows.join('\n'));
    assert.match(rows[0]!, /maya\s+delete\s+team\/app:v1\s+success/);
    await screenshot(page, 'audit');

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Action').fill('robot.create');
    await page.getByLabel('Project').fill('team');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitForRows(page, (rows) => rows.length > 0 && rows.every((row) => row.includes('robot.create')));
    assert.equal(await page.locator('table.audit tbody tr').count(), 1);
    // A time range that ends before anything happened matches nothing.
    await page.getByLabel('To', { exact: true }).fill('2001-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No events match.').waitFor();
  });

  await t.test('users: an admin creates, promotes, resets and deletes accounts; the last admin stays', async () => {
    // Still signed in as the admin.
    const asUser = (user: string, password: string) =>
      get(`${srv.url}/api/v1/users/${user}`, { headers: { authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') } });
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.locator('tr', { hasText: GUEST.name }).waitFor();
    assert.deepEqual((await page.locator('table tbody th[scope=row]').allTextContents()).sort(), ['gus', 'maya', 'root (you)']);

    await page.getByLabel('Name', { exact: true }).fill('quinn');
    await page.getByLabel('Password', { exact: true }).fill('quinn-first-pass');
    await page.getByRole('button', { name: 'Create user' }).click();
    const quinn = page.locator('tr', { hasText: 'quinn' });
    await quinn.waitFor();
    assert.equal((await asUser('quinn', 'quinn-first-pass')).status, 200, 'the new account signs in');

    await page.getByRole('button', { name: 'Make quinn an admin' }).click();
    await quinn.getByText('system admin').waitFor();
    assert.equal(((await asUser('quinn', 'quinn-first-pass')).json() as { admin: boolean }).admin, true);

    await page.getByRole('button', { name: 'Set password for quinn' }).click();
    await page.getByRole('dialog').getByLabel('New password for quinn').fill('quinn-second-pass');
    await page.getByRole('dialog').getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal((await asUser('quinn', 'quinn-first-pass')).status, 401, 'the old password no longer works');
    assert.equal((await asUser('quinn', 'quinn-second-pass')).status, 200);
    await screenshot(page, 'users');

    await page.getByRole('button', { name: 'Delete user quinn' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete user' }).click();
    await quinn.waitFor({ state: 'detached' });
    assert.equal((await get(`${srv.url}/api/v1/users/quinn`, { headers: { authorization: basic } })).status, 404);

    // root is the only admin left: the API refuses, and the page says why.
    await page.getByRole('button', { name: 'Remove admin from root' }).click();
    const refusal = page.locator('section', { hasText: 'Accounts' }).getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /admin/i);
    assert.equal(((await asUser(ADMIN.name, ADMIN.password)).json() as { admin: boolean }).admin, true);
  });

  await t.test('account: a user changes their own password, not without the current one', async () => {
    await signOut(page);
    await signIn(page, srv.url, GUEST);
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    assert.equal(await page.locator('table').count(), 0, 'no list of accounts for a non-admin');
    const fill = async (current: string, next: string, repeat = next) => {
      await page.getByLabel('Current password').fill(current);
      await page.getByLabel('New password', { exact: true }).fill(next);
      await page.getByLabel('Repeat new password').fill(repeat);
      await page.getByRole('button', { name: 'Change password' }).click();
    };
    await fill(GUEST.password, 'guest-new-pass-1', 'something-else');
    await page.getByRole('alert').filter({ hasText: 'do not match' }).waitFor();
    await fill('not-my-password', 'guest-new-pass-1');
    await page.getByRole('alert').filter({ hasText: /current password is wrong/ }).waitFor();
    await fill(GUEST.password, 'guest-new-pass-1');
    await page.getByRole('status').filter({ hasText: 'Password changed.' }).waitFor();
    await signOut(page);
    await signIn(page, srv.url, { name: GUEST.name, password: 'guest-new-pass-1' });
  });

  assert.deepEqual(browser.problems, [], 'no CSP violation or page error');
});
