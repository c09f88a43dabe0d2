/**
 * The browsable API reference (/api/v1/docs, Swagger UI) in a real headless Chromium: it renders
 * the generated document, breaks no rule of the console's Content-Security-Policy, and asks for
 * nothing outside Wharf (it must work on a machine without internet).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startWharfFor } from '../fixtures/server.js';
import { browserSkipReason, launchBrowser } from './console-support.js';

test('the API reference renders the generated document offline, under the CSP', { skip: browserSkipReason() }, async (t) => {
  const srv = await startWharfFor(t);
  const browser = await launchBrowser(t, srv.url);
  const page = await browser.newPage();
  const outside: string[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.origin !== srv.url && url.protocol !== 'data:') outside.push(r.url());
  });
  await page.goto(`${srv.url}/api/v1/docs`);
  await page.getByRole('heading', { name: /Wharf management API/ }).waitFor();
  // An operation from each kind of route: the management API and the registry views.
  await page.getByText('list users').first().waitFor();
  await page.getByText("a repository's tags").first().waitFor();
  // The named schemas are listed too.
  await page.getByText('RepositorySummary').first().waitFor();
  assert.deepEqual(outside, [], 'requests outside Wharf');
  assert.deepEqual(browser.problems, [], 'CSP violations or page errors');
});
