/**
 * The console in a real headless Chromium against a Wharf in auth mode `none`, with images pushed
 * by skopeo: browse, image details, platforms, copy a pull command, delete a tag, usage, phone
 * width, dark theme, inert image metadata, and the HTTP contract of the console surface (CSP,
 * caching, SPA fallback). Screenshots land in docs/console/.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { get, head, pushImage } from '../fixtures/http.js';
import { makeTestImages, ociArtifact, ociImage, randomBlob } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { browserSkipReason, launchBrowser, screenshot, writeOciLayout } from './console-support.js';

const SCRIPT_LABEL = '<script>window.__xss=1</script>';
const IMG_LABEL = '<img src=x onerror="window.__xss=1">';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

test('console: browse, inspect, copy, delete, usage (auth mode none)', { skip: browserSkipReason() ?? missingClients('skopeo'), timeout: 240_000 }, async (t) => {
  const srv = await startWharfFor(t);
  const c = await createClientEnvFor(t, { registries: [srv.host] });
  const layout = await makeTestImages(path.join(c.dir, 'layout'), 2048);
  await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${srv.host}/team/app:v1`]);
  await c.skopeo(['copy', '--all', `oci:${layout}:multi`, `docker://${srv.host}/team/app:multi`]);

  // An image whose metadata tries to inject markup, and an SBOM attached to it.
  const evil = ociImage({
    layers: [randomBlob(3000), randomBlob(1500)],
    config: {
      config: {
        Labels: { 'evil.script': SCRIPT_LABEL, 'evil.img': IMG_LABEL, 'org.opencontainers.image.title': 'evil' },
        Env: ['PATH=/usr/local/bin:/usr/bin', 'GREETING=<b>hello</b>'],
        Entrypoint: ['/bin/app'],
        Cmd: ['--serve', '--port=8080'],
        ExposedPorts: { '8080/tcp': {} },
        WorkingDir: '/srv',
      },
      history: [
        { created: '2024-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:base in / ' },
        { created: '2024-01-02T00:00:00Z', created_by: `/bin/sh -c #(nop) LABEL evil.img=${IMG_LABEL}`, empty_layer: true },
        { created: '2024-01-03T00:00:00Z', created_by: 'RUN /bin/sh -c make install # buildkit' },
      ],
    },
  });
  const evilLayout = await writeOciLayout(path.join(c.dir, 'evil'), { evil });
  await c.skopeo(['copy', `oci:${evilLayout}:evil`, `docker://${srv.host}/team/xss:latest`]);
  // skopeo may rewrite the manifest: attach the SBOM to what the registry actually holds.
  const pushed = await head(`${srv.url}/v2/team/xss/manifests/latest`, { headers: { accept: evil.manifest.mediaType } });
  const sbom = ociArtifact({ mediaType: evil.manifest.mediaType, digest: String(pushed.headers['docker-content-digest']), size: Number(pushed.headers['content-length']) });
  await pushImage(srv.url, 'team/xss', sbom.manifest.digest, sbom);
  await c.skopeo(['copy', `oci:${layout}:arm64`, `docker://${srv.host}/other/tool:1.0`]);

  await t.test('the console surface: CSP, caching, SPA fallback, APIs untouched', async () => {
    const index = await get(`${srv.url}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-security-policy'], CSP);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['referrer-policy'], 'no-referrer');
    assert.equal(index.headers['cache-control'], 'no-cache');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.text())?.[1];
    assert.ok(script, 'index.html loads a hashed script');
    assert.doesNotMatch(index.text(), /<script>(?!<)|style=/, 'no inline script or style in index.html');
    const asset = await get(`${srv.url}${script}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(asset.headers['content-type']), /javascript/);

    const deep = await get(`${srv.url}/repositories/team/app/-/v1`);
    assert.equal(deep.status, 200);
    assert.match(deep.text(), /<div id="root">/);
    assert.equal((await get(`${srv.url}/assets/missing-123.js`)).status, 404);
    const api404 = await get(`${srv.url}/api/v1/no-such-thing`);
    assert.equal(api404.status, 404);
    assert.match(api404.text(), /NOT_FOUND/);
    const v2 = await get(`${srv.url}/v2/`);
    assert.equal(v2.status, 200);
    assert.equal(v2.headers['content-security-policy'], undefined, '/v2 is not the console');
  });

  await t.test('the read API: repositories, tags with platforms and sizes, paging and errors', async () => {
    const repos = (await get(`${srv.url}/api/v1/repositories?sort=size`)).json() as { items: Array<{ name: string; tagCount: number; size: number }>; total: number };
    assert.equal(repos.total, 3);
    assert.deepEqual(repos.items.map((r) => r.name).sort(), ['other/tool', 'team/app', 'team/xss']);
    assert.ok(repos.items[0]!.size >= repos.items[1]!.size && repos.items[1]!.size >= repos.items[2]!.size, 'sorted by size, largest first');
    const searched = (await get(`${srv.url}/api/v1/repositories?q=XS`)).json() as { items: Array<{ name: string }> };
    assert.deepEqual(searched.items.map((r) => r.name), ['team/xss']);
    const paged = (await get(`${srv.url}/api/v1/repositories?limit=1&offset=1`)).json() as { items: Array<{ name: string }>; total: number };
    assert.deepEqual(paged.items.map((r) => r.name), ['team/app']);
    assert.equal(paged.total, 3);

    const tags = (await get(`${srv.url}/api/v1/repositories/team/app/-/tags`)).json() as {
      items: Array<{ name: string; size: number; platforms: Array<{ os: string; architecture: string; variant?: string }> }>;
    };
    const multi = tags.items.find((x) => x.name === 'multi');
    assert.deepEqual(multi?.platforms, [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }]);
    const v1 = tags.items.find((x) => x.name === 'v1');
    assert.deepEqual(v1?.platforms, [{ os: 'linux', architecture: 'amd64' }]);
    assert.ok(v1!.size > 2048 && multi!.size > v1!.size, 'compressed sizes: config + layers, summed over an index');

    assert.equal((await get(`${srv.url}/api/v1/repositories/team/nope/-/tags`)).status, 404);
    assert.equal((await get(`${srv.url}/api/v1/repositories/Bad..Name/-/tags`)).status, 400);
    assert.equal((await get(`${srv.url}/api/v1/repositories?limit=0`)).status, 400);
    assert.equal((await get(`${srv.url}/api/v1/repositories?sort=evil`)).status, 400);
  });

  await t.test('a manifest GET records the last pull', async () => {
    const before = (await get(`${srv.url}/api/v1/repositories/other/tool/-/manifests/1.0`)).json() as { lastPulledAt: number | null };
    assert.equal(before.lastPulledAt, null, 'browsing in the console is not a pull');
    await c.skopeo(['inspect', '--raw', `docker://${srv.host}/other/tool:1.0`]);
    // The write happens just after the answer: poll briefly.
    let after: number | null = null;
    for (let i = 0; i < 50 && after === null; i++) {
      after = ((await get(`${srv.url}/api/v1/repositories/other/tool/-/manifests/1.0`)).json() as { lastPulledAt: number | null }).lastPulledAt;
      if (after === null) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(after && Math.abs(after - Date.now()) < 60_000, 'last pull recorded');
  });

  const browser = await launchBrowser(t, srv.url);
  const page = await browser.newPage();

  await t.test('pull counts: the repository page and the audit log (one row, its count)', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await get(`${srv.url}/v2/other/tool/manifests/1.0`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
    const image = (await get(`${srv.url}/api/v1/repositories/other/tool/-/manifests/1.0`)).json() as { pullCount: number };
    assert.ok(image.pullCount >= 3, `skopeo's pull and two GETs: ${image.pullCount}`);
    await page.goto(`${srv.url}/repositories/other/tool`);
    const row = page.locator('tr[data-tag="1.0"]');
    await row.waitFor();
    assert.equal((await row.locator('td').allTextContents())[5], String(image.pullCount), 'the Pulls column');
    await page.goto(`${srv.url}/audit?action=pull`);
    await page.locator('table.audit tbody tr', { hasText: 'other/tool' }).waitFor();
    const text = await page.locator('table.audit tbody tr', { hasText: 'other/tool' }).innerText();
    assert.match(text, new RegExp(`pull ×${image.pullCount}`), text);
    assert.match(text, /anonymous/);
  });

  await t.test('repositories: list, search, sort', async () => {
    await page.goto(`${srv.url}/`);
    await page.getByRole('link', { name: 'team/app' }).waitFor();
    const names = await page.locator('table tbody th[scope=row]').allTextContents();
    assert.deepEqual(names, ['other/tool', 'team/app', 'team/xss']);
    await screenshot(page, 'repositories');
    await page.getByLabel('Search').fill('xss');
    await page.waitForURL(/q=xss/);
    await page.locator('table tbody tr', { hasText: 'team/app' }).waitFor({ state: 'detached' });
    assert.deepEqual(await page.locator('table tbody th[scope=row]').allTextContents(), ['team/xss']);
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Sort by').selectOption('size');
    await page.waitForURL(/sort=size/);
  });

  await t.test('repository: tags with platforms, copy the pull command', async () => {
    await page.goto(`${srv.url}/repositories/team/app`);
    const multiRow = page.locator('tr[data-tag="multi"]');
    await multiRow.waitFor();
    assert.match(await multiRow.innerText(), /linux\/amd64/);
    assert.match(await multiRow.innerText(), /linux\/arm64\/v8/);
    await screenshot(page, 'repository');
    await page.getByRole('button', { name: 'Copy pull command for team/app:v1' }).click();
    await page.getByRole('button', { name: 'Copy pull command for team/app:v1' }).filter({ hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), `docker pull ${srv.host}/team/app:v1`);
    await page.getByRole('button', { name: 'Copy pull-by-digest command for team/app:multi' }).click();
    assert.match(await page.evaluate('navigator.clipboard.readText()'), new RegExp(`^docker pull ${srv.host.replace('.', '\\.')}/team/app@sha256:[0-9a-f]{64}$`));
  });

  await t.test('image: layers with sizes and history, platforms of an index', async () => {
    await page.getByRole('link', { name: 'v1', exact: true }).click();
    await page.getByRole('heading', { name: 'Layers' }).waitFor();
    const layers = page.locator('table.layers tbody tr');
    assert.equal(await layers.count(), 1);
    assert.match(await layers.first().innerText(), /make-test-image\.sh/);
    assert.match(await layers.first().innerText(), /\d+(\.\d+)? (B|KB)/);
    assert.match(await page.locator('.facts').first().innerText(), /linux\/amd64/);
    await page.goto(`${srv.url}/repositories/team/app/-/multi`);
    await page.getByRole('heading', { name: 'Platforms' }).waitFor();
    const rows = await page.locator('section', { has: page.getByRole('heading', { name: 'Platforms' }) }).locator('tbody th').allTextContents();
    assert.deepEqual(rows, ['linux/amd64', 'linux/arm64/v8']);
    await screenshot(page, 'image-index');
  });

  await t.test('image metadata renders as inert text', async () => {
    await page.goto(`${srv.url}/repositories/team/xss/-/latest`);
    await page.getByRole('heading', { name: 'Labels' }).waitFor();
    const labels = await page.locator('table.kv').first().innerText();
    assert.ok(labels.includes(SCRIPT_LABEL), 'the <script> label is shown as text');
    assert.ok(labels.includes(IMG_LABEL), 'the <img onerror> label is shown as text');
    assert.ok((await page.locator('table.layers').innerText()).includes('make install'));
    assert.equal(await page.evaluate('typeof window.__xss'), 'undefined', 'no injected script ran (window.__xss is undefined)');
    assert.equal(await page.locator('main img').count(), 0, 'no <img> element was created from metadata');
    const body = await page.locator('main').innerText();
    for (const text of ['/bin/app', '--port=8080', '8080/tcp', 'GREETING=<b>hello</b>', '/srv', 'application/vnd.example.sbom.v1']) {
      assert.ok(body.includes(text), `shows ${text}`);
    }
    await screenshot(page, 'image');
    await page.getByRole('heading', { name: 'Labels' }).scrollIntoViewIfNeeded();
    await page.evaluate('window.scrollBy(0, -80)');
    await screenshot(page, 'image-labels');
  });

  await t.test('delete a tag with confirmation', async () => {
    await page.goto(`${srv.url}/repositories/team/app`);
    await page.getByRole('button', { name: 'Delete tag v1' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.locator('tr[data-tag="v1"]').count(), 1, 'cancel keeps the tag');
    await page.getByRole('button', { name: 'Delete tag v1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete tag' }).click();
    await page.getByRole('status').filter({ hasText: 'Tag v1 deleted.' }).waitFor();
    await page.locator('tr[data-tag="v1"]').waitFor({ state: 'detached' });
    const tags = (await get(`${srv.url}/v2/team/app/tags/list`)).json() as { tags: string[] };
    assert.deepEqual(tags.tags, ['multi']);
  });

  await t.test('health and usage', async () => {
    await page.goto(`${srv.url}/health`);
    await page.getByRole('heading', { name: 'Storage per project' }).waitFor();
    const rows = await page.locator('section', { has: page.getByRole('heading', { name: 'Storage per project' }) }).locator('tbody th').allTextContents();
    assert.deepEqual(rows.sort(), ['other', 'team']);
    assert.match(await page.locator('section', { has: page.getByRole('heading', { name: 'Registry' }) }).innerText(), /MANIFESTS\s+\d+/i);
    await screenshot(page, 'health');
  });

  await t.test('phone width and dark theme', async () => {
    const phone = await browser.newPage({ width: 390, height: 844 });
    await phone.goto(`${srv.url}/repositories/team/xss/-/latest`);
    await phone.getByRole('heading', { name: 'Layers' }).waitFor();
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 1, `no sideways scrolling of the page at phone width (overflow ${overflow}px)`);
    await screenshot(phone, 'image-phone');
    await phone.getByRole('button', { name: /^Theme: system/ }).click();
    assert.equal(await phone.evaluate('document.documentElement.dataset.theme'), 'dark');
    const background = await phone.evaluate('getComputedStyle(document.body).backgroundColor');
    assert.equal(background, 'rgb(15, 17, 21)');
    await phone.goto(`${srv.url}/repositories`);
    await phone.getByRole('link', { name: 'team/app' }).waitFor();
    assert.equal(await phone.evaluate('document.documentElement.dataset.theme'), 'dark', 'the choice is kept');
    await screenshot(phone, 'repositories-phone-dark');
    // keyboard: the skip link is the first stop and moves focus to the content
    await phone.keyboard.press('Tab');
    assert.equal(await phone.evaluate('document.activeElement?.textContent'), 'Skip to content');
  });

  assert.deepEqual(browser.problems, [], 'no CSP violation or page error');
});
