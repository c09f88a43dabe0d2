/**
 * Helpers for the console's browser tests: a real headless Chromium (Debian's, driven by
 * playwright-core), OCI layouts with chosen images for skopeo, screenshots into docs/console/.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Image, Index } from '../fixtures/images.js';
import { makeTempDir, removeDir, repoRoot } from '../fixtures/paths.js';

export const CHROMIUM = '/usr/bin/chromium';

export function browserSkipReason(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed`;
  if (!existsSync(path.join(repoRoot, 'web', 'dist', 'index.html'))) return 'the console is not built (npm run build)';
  return undefined;
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ConsoleBrowser {
  context: BrowserContext;
  /** A new page that fails the test on CSP violations and uncaught page errors (see `problems`). */
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  /** CSP violations, page errors and console errors seen so far. */
  problems: string[];
}

/** A fresh Chromium profile per call, closed and removed after the test. */
export async function launchBrowser(t: { after(fn: () => unknown): void }, origin: string, options: { colorScheme?: 'light' | 'dark' } = {}): Promise<ConsoleBrowser> {
  const profile = await makeTempDir('wharf-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
    colorScheme: options.colorScheme ?? 'light',
    timeout: 60_000,
  });
  t.after(async () => {
    await context.close().catch(() => undefined);
    await removeDir(profile);
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  context.setDefaultTimeout(15_000);
  const problems: string[] = [];
  // The persistent context opens one blank page; reuse it first.
  let spare: Page | undefined = context.pages()[0];
  return {
    context,
    problems,
    async newPage({ width, height } = {}) {
      const page = spare ?? (await context.newPage());
      spare = undefined;
      if (width && height) await page.setViewportSize({ width, height });
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      page.on('console', (message) => {
        const text = message.text();
        if (/Content Security Policy|Refused to/i.test(text)) problems.push(`csp: ${text}`);
      });
      return page;
    },
  };
}

/** Writes images into an OCI layout (refs named by the map's keys) for `skopeo copy oci:<dir>:<ref>`. */
export async function writeOciLayout(dir: string, refs: Record<string, Image | Index>): Promise<string> {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (digest: string, bytes: Buffer) => writeFile(path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  const entries: unknown[] = [];
  for (const [ref, item] of Object.entries(refs)) {
    for (const [digest, bytes] of item.blobs) await put(digest, bytes);
    for (const child of 'images' in item ? item.images : []) await put(child.manifest.digest, child.manifest.bytes);
    await put(item.manifest.digest, item.manifest.bytes);
    entries.push({
      mediaType: item.manifest.mediaType,
      digest: item.manifest.digest,
      size: item.manifest.bytes.length,
      annotations: { 'org.opencontainers.image.ref.name': ref },
    });
  }
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
  return dir;
}

/** Signs in through the console's form and waits for the signed-in header. */
export async function signIn(page: Page, base: string, user: { name: string; password: string }): Promise<void> {
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Username').fill(user.name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

const SHOTS = path.join(repoRoot, 'docs', 'console');

/** Saves a screenshot of the page as docs/console/<name>.png (the README links them). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false, animations: 'disabled', caret: 'hide' });
}

export { removeDir };

