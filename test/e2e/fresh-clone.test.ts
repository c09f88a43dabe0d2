/**
 * A newcomer's first minutes: clone the repository (its committed HEAD) into a temporary folder,
 * run the README's "Start it" command exactly as written, in a fresh login shell with a clean
 * environment (only the port is set, through WHARF_HTTP_PORT), then check that /v2/ answers, an
 * image pushes and pulls back, the console loads in Chromium, and the server stops cleanly.
 *
 * The command is read from the clone's README.md (the fenced block after the `start-command`
 * marker), so the README and this test cannot drift apart. npm's cache is the user's own (HOME),
 * warm after the suite's own `npm ci`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeIdleConnections, get, pushImage } from '../fixtures/http.js';
import { ociImage, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir, repoRoot } from '../fixtures/paths.js';
import { freePort } from '../fixtures/server.js';
import { CHROMIUM, launchBrowser } from './console-support.js';

/** npm ci compiles better-sqlite3 and the build runs tsc and vite: minutes on a busy machine. */
const START_TIMEOUT_MS = 15 * 60_000;
const STOP_TIMEOUT_MS = 60_000;
const CLEAN_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The README's start command: the fenced code block right after the `<!-- start-command … -->` marker. */
function startCommandOf(readme: string): string {
  const block = /<!-- start-command\b[^>]*-->\s*```[a-z]*\n([\s\S]*?)```/.exec(readme);
  const command = block?.[1]?.trim();
  if (!command) throw new Error('README.md has no start command: a fenced block after a "<!-- start-command -->" line in "Start it"');
  return command;
}

interface Shell {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `bash -lc command` in its own process group, with only HOME, PATH and `env`. */
function runInFreshShell(command: string, cwd: string, env: Record<string, string>): Shell {
  const child = spawn('bash', ['-lc', command], {
    cwd,
    env: { HOME: os.homedir(), PATH: CLEAN_PATH, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-256 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** The pid the server logs in its `wharf listening` line (bash runs it as a child, not by exec). */
function serverPid(output: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"wharf listening"')) continue;
    try {
      return (JSON.parse(line) as { pid?: number }).pid;
    } catch {
      // not the JSON line
    }
  }
  return undefined;
}

test('a fresh clone starts with the README command: /v2/ answers, push and pull work, the console loads', { timeout: START_TIMEOUT_MS + 5 * 60_000 }, async (t) => {
  const work = await makeTempDir('wharf-fresh-clone-');
  t.after(() => removeDir(work));
  const clone = path.join(work, 'wharf');
  const cloned = runInFreshShell(`git clone --quiet ${JSON.stringify(repoRoot)} ${JSON.stringify(clone)}`, work, {});
  assert.equal(await cloned.exited, 0, cloned.output());
  assert.ok(!existsSync(path.join(clone, 'node_modules')), 'the clone starts without node_modules');

  const command = startCommandOf(await readFile(path.join(clone, 'README.md'), 'utf8'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const shell = runInFreshShell(command, clone, { WHARF_HTTP_PORT: String(port) });
  // Whatever happens, nothing of it outlives the test.
  const killGroup = () => {
    if (shell.child.exitCode === null && shell.child.pid) process.kill(-shell.child.pid, 'SIGKILL');
  };
  process.once('exit', killGroup);
  t.after(() => {
    killGroup();
    process.removeListener('exit', killGroup);
  });

  const started = Date.now();
  const deadline = started + START_TIMEOUT_MS;
  for (;;) {
    if (shell.child.exitCode !== null) assert.fail(`\`${command}\` exited with ${shell.child.exitCode} before /v2/ answered:\n${shell.output()}`);
    const base = await get(`${url}/v2/`).catch(() => undefined);
    if (base?.status === 200) break;
    if (Date.now() > deadline) assert.fail(`/v2/ did not answer within ${START_TIMEOUT_MS} ms:\n${shell.output()}`);
    await sleep(1000);
  }
  t.diagnostic(`\`${command}\`: /v2/ answered after ${Math.round((Date.now() - started) / 1000)} s`);

  // Push an image, pull it back byte for byte.
  const image = ociImage({ config: { config: { Labels: { 'org.opencontainers.image.title': 'fresh' } } } });
  await pushImage(url, 'fresh/app', 'v1', image);
  const manifest = await get(`${url}/v2/fresh/app/manifests/v1`, { headers: { accept: image.manifest.mediaType } });
  assert.equal(manifest.status, 200);
  assert.equal(sha256(manifest.body), image.manifest.digest);
  for (const [digest, bytes] of image.blobs) {
    const blob = await get(`${url}/v2/fresh/app/blobs/${digest}`);
    assert.equal(blob.status, 200, digest);
    assert.ok(blob.body.equals(bytes), `blob ${digest} pulled back as pushed`);
  }

  // The console: its page and the script it names, then a real browser showing the pushed repository.
  const page = await get(`${url}/`);
  assert.equal(page.status, 200);
  const script = /<script[^>]+src="([^"]+\.js)"/.exec(page.text())?.[1];
  assert.ok(script, `the console page names its script:\n${page.text()}`);
  const asset = await get(`${url}${script}`);
  assert.equal(asset.status, 200);
  assert.match(String(asset.headers['content-type']), /javascript/);
  if (existsSync(CHROMIUM)) {
    const browser = await launchBrowser(t, url);
    const tab = await browser.newPage();
    await tab.goto(`${url}/`);
    await tab.getByRole('link', { name: 'fresh/app' }).waitFor();
    assert.deepEqual(browser.problems, []);
  } else {
    t.diagnostic(`${CHROMIUM} is not installed: the console was checked over HTTP only`);
  }

  // Stop the server as an operator would (SIGTERM): it drains and exits 0, and so does the shell.
  const pid = serverPid(shell.output());
  assert.ok(pid, `the server logged its pid:\n${shell.output()}`);
  closeIdleConnections();
  process.kill(pid, 'SIGTERM');
  const code = await Promise.race([shell.exited, sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const)]);
  assert.equal(code, 0, `the server stops cleanly on SIGTERM:\n${shell.output().slice(-4000)}`);
});
