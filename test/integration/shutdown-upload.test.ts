/**
 * SIGTERM while a large upload streams in: the upload either completes inside the grace period
 * or is cut and stays a resumable session; after a restart the blob verifies or does not exist.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import YAML from 'yaml';
import { get, head, patch, post, put, type Response } from '../fixtures/http.js';
import { randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir, repoRoot } from '../fixtures/paths.js';
import { freePort, killOnExit, startWharf, type WharfServer } from '../fixtures/server.js';

const MiB = 1024 * 1024;
const REPO = 'ops/shutdown';

/** Writes `bytes` into `stream` in 64 KiB pieces, honouring backpressure. */
async function feed(stream: PassThrough, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; offset += 65536) {
    if (!stream.write(bytes.subarray(offset, offset + 65536))) await new Promise((resolve) => stream.once('drain', resolve));
  }
}

/** Resolves once the server holds at least `bytes` of the session (the PATCH is mid-stream). */
async function storedAtLeast(srv: WharfServer, location: string, bytes: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await get(new URL(location, srv.url), { headers: { connection: 'close' } });
    const end = Number(/^0-(\d+)$/.exec(String(r.headers.range))?.[1] ?? -1);
    if (r.status === 204 && end + 1 >= bytes) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the server never held ${bytes} bytes of the upload`);
}

/** True when a new TCP connection to the port is refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function waitForLog(srv: WharfServer, text: string): Promise<void> {
  for (let i = 0; i < 250 && !srv.logs().includes(text); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(srv.logs().includes(text), `log line "${text}"`);
}

async function startPatch(srv: WharfServer): Promise<{ location: string; body: PassThrough; reply: Promise<Response> }> {
  const start = await post(`${srv.url}/v2/${REPO}/blobs/uploads/`);
  assert.equal(start.status, 202);
  const location = String(start.headers.location);
  const body = new PassThrough();
  const reply = patch(new URL(location, srv.url), { headers: { 'content-type': 'application/octet-stream' }, body, timeoutMs: 30_000 });
  return { location, body, reply };
}

test('SIGTERM mid-upload: the upload finishes within the grace period and the blob verifies after a restart', async (t) => {
  const dataDir = await makeTempDir('wharf-shutdown-');
  t.after(() => removeDir(dataDir));
  const blob = randomBlob(8 * MiB);
  const srv = await startWharf({ dataDir, config: { http: { shutdownGraceMs: 20_000 } } });
  t.after(() => srv.stop('SIGKILL'));

  const { location, body, reply } = await startPatch(srv);
  await feed(body, blob.subarray(0, 4 * MiB));
  await storedAtLeast(srv, location, MiB);
  const signalledAt = Date.now();
  srv.process.kill('SIGTERM');
  await waitForLog(srv, '"msg":"shutting down"');
  assert.equal(await refused(srv.port), true, 'no new connections while draining');

  await feed(body, blob.subarray(4 * MiB));
  body.end();
  const done = await reply;
  assert.equal(done.status, 202, done.text());
  assert.equal(done.headers.range, `0-${blob.length - 1}`);
  const exit = await srv.exited;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - signalledAt < 15_000, 'stopped once the upload was done, well before the grace period ended');

  const again = await startWharf({ dataDir });
  t.after(() => again.stop());
  const url = new URL(location, again.url);
  url.searchParams.set('digest', sha256(blob));
  const finished = await put(url);
  assert.equal(finished.status, 201, finished.text());
  const pulled = await get(`${again.url}/v2/${REPO}/blobs/${sha256(blob)}`);
  assert.equal(pulled.status, 200);
  assert.equal(sha256(pulled.body), sha256(blob));
});

test('SIGTERM mid-upload past the grace period: the upload is cut, the process exits 0, the session resumes after a restart', async (t) => {
  const dataDir = await makeTempDir('wharf-shutdown-');
  t.after(() => removeDir(dataDir));
  const blob = randomBlob(6 * MiB);
  const graceMs = 500;
  const srv = await startWharf({ dataDir, config: { http: { shutdownGraceMs: graceMs } } });
  t.after(() => srv.stop('SIGKILL'));

  const { location, body, reply } = await startPatch(srv);
  const outcome = reply.then(
    (r) => r.status,
    () => 'cut' as const,
  );
  await feed(body, blob.subarray(0, 3 * MiB));
  await storedAtLeast(srv, location, MiB);
  const signalledAt = Date.now();
  srv.process.kill('SIGTERM');
  // The client stalls: the body never ends.
  const exit = await srv.exited;
  const tookMs = Date.now() - signalledAt;
  assert.deepEqual(exit, { code: 0, signal: null }, srv.logs().slice(-2000));
  assert.ok(tookMs >= graceMs - 50, `waited for the grace period (${tookMs} ms)`);
  assert.ok(tookMs < graceMs + 4000, `exited soon after the grace period (${tookMs} ms)`);
  assert.match(srv.logs(), /"reason":"grace period over"/);
  assert.equal(await outcome, 'cut', 'the stalled PATCH was not answered as a success');
  body.destroy();

  const again = await startWharf({ dataDir });
  t.after(() => again.stop());
  assert.equal((await head(`${again.url}/v2/${REPO}/blobs/${sha256(blob)}`)).status, 404, 'no half-written blob is visible');
  const status = await get(new URL(location, again.url));
  assert.equal(status.status, 204, 'the session survived the restart');
  const stored = Number(/^0-(\d+)$/.exec(String(status.headers.range))?.[1] ?? -1) + 1;
  assert.ok(stored > 0 && stored <= 3 * MiB, `stored ${stored} bytes`);

  const rest = await patch(new URL(location, again.url), {
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${stored}-${blob.length - 1}` },
    body: blob.subarray(stored),
  });
  assert.equal(rest.status, 202, rest.text());
  const url = new URL(String(rest.headers.location), again.url);
  url.searchParams.set('digest', sha256(blob));
  const finished = await put(url);
  assert.equal(finished.status, 201, finished.text());
  const pulled = await get(`${again.url}/v2/${REPO}/blobs/${sha256(blob)}`);
  assert.equal(sha256(pulled.body), sha256(blob), 'the resumed blob verifies');
});

/** True once GET /v2/ gets any HTTP answer (false on a refused or reset connection). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/', agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once('error', () => resolve(false));
  });
}

/**
 * Once the server has answered a request, a SIGTERM drains it (exit 0): start-up has no gap
 * between serving and the signal handlers. (Such a gap — an FFI load awaited after listen(),
 * for http.acceptBatch, once was one — lets the signal kill the process undrained.) Before the
 * first answer the kernel may already queue connections; a SIGTERM then stops a process that
 * served nothing.
 */
test('SIGTERM the moment the first request is answered: the process drains and exits 0', async (t) => {
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await makeTempDir('wharf-early-term-');
    t.after(() => removeDir(dir));
    const port = await freePort();
    const configPath = path.join(dir, 'config.yml');
    await writeFile(configPath, YAML.stringify({ dataDirectory: path.join(dir, 'data'), http: { address: '127.0.0.1', port } }));
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'wharf'), 'serve', '--config', configPath], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    for (let i = 0; !(await answers(port)) && i < 15_000; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, output.slice(-2000));
    assert.match(output, /"msg":"wharf listening"/);
  }
});
