/**
 * The console's Replication page in a real headless Chromium: an admin sees the rules with their
 * last run (never a credential), runs a push rule by hand, follows the run to its end without
 * reloading, and reads the run's images; a failing rule shows its error; a non-admin is told the
 * page is for administrators and has no Replication link.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { pushImage } from '../fixtures/http.js';
import { ociImage, randomBlob } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { ADMIN, adminApi, startReplicatingWharf } from '../integration/replication-support.js';
import { browserSkipReason, launchBrowser, screenshot, signIn } from './console-support.js';

/** Waits until the newest run's row (the table refreshes itself) matches `pattern`. */
async function waitForNewestRun(page: Page, table: string, pattern: RegExp): Promise<string> {
  const row = page.getByRole('table', { name: table }).getByRole('row').nth(1);
  let text = '';
  for (let i = 0; i < 300; i++) {
    text = (await row.count()) > 0 ? await row.innerText() : '';
    if (pattern.test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`the newest run of ${table} never matched ${pattern}: ${text}`);
}

const TARGET_ADMIN = { username: 'far', password: 'far-away-password' };
const VIEWER = { name: 'vic', password: 'viewer-password-1' };

test('console: replication rules, run now, progress and run log', { skip: browserSkipReason(), timeout: 240_000 }, async (t) => {
  const target = await startWharfFor(t, { config: { auth: { mode: 'basic' } }, env: { WHARF_ADMIN_USER: TARGET_ADMIN.username, WHARF_ADMIN_PASSWORD: TARGET_ADMIN.password } });
  const srv = await startReplicatingWharf();
  t.after(() => srv.stop());
  const api = adminApi(srv);
  await api.ok('POST', '/projects', { name: 'release' });
  await api.ok('POST', '/users', { name: VIEWER.name, password: VIEWER.password });
  const image = ociImage({ layers: [randomBlob(400_000)] });
  await pushImage(srv.url, 'release/web', '3.1', image, { auth: ADMIN });
  await api.createRule({ name: 'to-far', kind: 'push', push: { project: 'release', target: { url: target.url }, triggers: [] }, credentials: TARGET_ADMIN });
  await api.createRule({ name: 'broken', kind: 'push', push: { project: 'release', target: { url: 'http://127.0.0.1:9' }, triggers: [] } });

  const browser = await launchBrowser(t, srv.url);
  const page = await browser.newPage();
  await signIn(page, srv.url, { name: ADMIN.username, password: ADMIN.password });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Replication' }).click();
  await page.getByRole('heading', { name: 'Replication', level: 1 }).waitFor();
  const rules = page.getByRole('table', { name: 'Replication rules' });
  const farRow = rules.getByRole('row').filter({ hasText: 'to-far' });
  assert.match(await farRow.innerText(), /release → http:\/\/127\.0\.0\.1:\d+.*credentials stored.*never run/s);
  assert.ok(!(await page.content()).includes(TARGET_ADMIN.password), 'no credential reaches the page');

  // Run now, then open the rule: the run goes from queued to succeeded on the page by itself.
  await farRow.getByRole('button', { name: 'Run now to-far' }).click();
  await farRow.getByRole('link', { name: 'to-far' }).click();
  const runs = page.getByRole('table', { name: 'Runs of to-far, newest first' });
  await waitForNewestRun(page, 'Runs of to-far, newest first', /manual\s+succeeded\s+1 copied, 0 unchanged, 0 failed of 1/);
  await runs.getByRole('row').nth(1).getByRole('link').click();
  const log = page.getByRole('table', { name: 'Images of the run, in plan order' });
  await log.getByRole('row').filter({ hasText: 'release/web:3.1' }).waitFor();
  assert.match(await log.getByRole('row').nth(1).innerText(), /release\/web:3\.1\s+done\s+sha256:/);
  assert.match(await farRow.innerText(), /succeeded/, 'the rule list shows the last run');
  await screenshot(page, 'replication');

  // A failing rule: its error is in the run list and the run log.
  const brokenRow = rules.getByRole('row').filter({ hasText: 'broken' });
  await brokenRow.getByRole('button', { name: 'Run now broken' }).click();
  await brokenRow.getByRole('link', { name: 'broken' }).click();
  await waitForNewestRun(page, 'Runs of broken, newest first', /manual\s+failed\s+0 copied, 0 unchanged, 1 failed of 1.*target broken \(http:\/\/127\.0\.0\.1:9\) is unreachable/s);

  // A signed-in user who is not an admin: no link, and the page says why.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, srv.url, VIEWER);
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Replication' }).count(), 0);
  await page.goto(`${srv.url}/replication`);
  await page.getByText('Replication rules are managed by system administrators.').waitFor();
  assert.deepEqual(browser.problems, []);
});
