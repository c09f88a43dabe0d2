/**
 * Connections accepted in batches (src/http/accept-batch.ts): a burst of connections that queued
 * while the event loop was busy is accepted in one turn of the loop, not one per turn, and each
 * accepted socket is the one Node's own accept would have made: the right peer, the server's
 * socket options, counted in the server's connections (`close()` waits for them, and
 * `maxConnections` holds), plain HTTP and TLS alike. Then the same through a Wharf process, whose
 * event loop a SIGSTOP holds while the burst queues.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import { acceptInBatches } from '../../src/http/accept-batch.js';
import { loadLibc } from '../../src/lib/libc.js';
import { get } from '../fixtures/http.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor } from '../fixtures/server.js';

const execFileP = promisify(execFile);

interface Answer {
  /** The client socket's own port. */
  localPort: number;
  status: number;
  body: string;
}

/**
 * A worker thread opens `count` connections to `port` and sends a GET on each; once all are
 * connected and written it raises `ready` (the server's loop may be blocked meanwhile: the kernel
 * completes the handshakes into the listen queue). Resolves with the answers; the connections stay
 * open until `close()`.
 */
function burst(port: number, count: number, options: { tls?: boolean; path?: string; ready: Int32Array }) {
  const worker = new Worker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    const net = require('node:net');
    const tls = require('node:tls');
    const { port, count, useTls, path, ready } = workerData;
    const sockets = [];
    const answers = [];
    let connected = 0;
    for (let i = 0; i < count; i++) {
      const socket = useTls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
      sockets.push(socket);
      let text = '';
      socket.once('connect', () => {
        socket.write('GET ' + path + ' HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n');
        if (++connected === count) { Atomics.store(ready, 0, 1); Atomics.notify(ready, 0); }
      });
      socket.on('data', (chunk) => {
        text += chunk.toString();
        const end = text.indexOf('\\r\\n\\r\\n');
        const length = /content-length: (\\d+)/i.exec(text);
        if (end < 0 || !length || text.length < end + 4 + Number(length[1])) return;
        answers.push({ localPort: socket.localPort, status: Number(text.slice(9, 12)), body: text.slice(end + 4) });
        if (answers.length === count) parentPort.postMessage(answers);
      });
      socket.on('error', (error) => parentPort.postMessage({ error: error.message }));
    }
    parentPort.on('message', () => { for (const s of sockets) s.destroy(); parentPort.close(); });
    `,
    { eval: true, workerData: { port, count, useTls: options.tls ?? false, path: options.path ?? '/', ready: options.ready } },
  );
  worker.unref(); // a failed test must not keep the run alive
  const answers = new Promise<Answer[]>((resolve, reject) => {
    worker.once('message', (message: Answer[] | { error: string }) => ('error' in message ? reject(new Error(message.error)) : resolve(message)));
    worker.once('error', reject);
  });
  return { answers, close: () => worker.postMessage('close') };
}

async function waitFor(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; !(await done()); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() > deadline) throw new Error(`not within 10 s: ${what}`);
  }
}

/** Blocks this thread's event loop until `ready` is raised: nothing is accepted meanwhile. */
function blockUntil(ready: Int32Array): void {
  assert.equal(Atomics.wait(ready, 0, 0, 10_000), 'ok', 'the burst did not connect within 10 s');
}

/** Which turn of the event loop each 'connection' event came in (a turn ends at its check phase). */
function connectionTurns(server: Server): number[] {
  const turns: number[] = [];
  let turn = 0;
  let ending = false;
  server.on('connection', () => {
    turns.push(turn);
    if (ending) return;
    ending = true;
    setImmediate(() => {
      turn++;
      ending = false;
    });
  });
  return turns;
}

const countPerTurn = (turns: number[]) => [...turns.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<number, number>()).values()];

const getsockopt = koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, _Out_ int *value, _Inout_ uint32_t *length)');
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;

/** TCP_NODELAY of a server-side socket (plain or TLS), read from the kernel. */
function noDelay(socket: Socket): boolean | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const value = [0];
  assert.equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, value, [4]), 0);
  return value[0] !== 0;
}

/** Answers with the peer the server sees and whether Nagle is off on the socket (http.Server turns it off). */
const echoPeer = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const socket = req.socket;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ address: socket.remoteAddress, port: socket.remotePort, noDelay: noDelay(socket) }));
};

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function runBurst(server: Server, count: number, batch: number, tls = false) {
  const port = await listen(server);
  const accepted = { loop: 0, batch: 0 };
  const batching = acceptInBatches(server, { batch, libc: await loadLibc(), onAccepted: (batched) => accepted[batched ? 'batch' : 'loop']++ });
  const turns = connectionTurns(server);
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const clients = burst(port, count, { tls, ready });
  blockUntil(ready);
  const answers = await clients.answers;
  return { batching, accepted, turns, answers, clients };
}

function assertPeersAnswered(answers: Answer[], count: number): void {
  assert.equal(answers.length, count);
  for (const answer of answers) {
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body) as { address: string; port: number; noDelay?: boolean };
    assert.deepEqual(seen, { address: '127.0.0.1', port: answer.localPort, noDelay: true }, 'the server sees the client that connected');
  }
}

/** close() calls back only once every connection counted in the server is gone. */
async function closeAfterClients(server: Server, close: () => void): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  close();
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('close() never called back')), 5000).unref())]);
}

describe('accepting connections in batches', () => {
  it('a burst that queued while the loop was busy is accepted in one turn, each socket as Node would make it', async () => {
    const server = http.createServer(echoPeer);
    const { batching, accepted, turns, answers, clients } = await runBurst(server, 40, 64);
    assert.deepEqual(batching, { batch: 64 });
    assert.deepEqual(countPerTurn(turns), [40], `connections per turn: ${countPerTurn(turns)}`);
    assert.deepEqual(accepted, { loop: 1, batch: 39 });
    assertPeersAnswered(answers, 40);
    assert.equal(await new Promise((resolve) => server.getConnections((_, n) => resolve(n))), 40);
    await closeAfterClients(server, clients.close);
  });

  it('takes at most `batch` connections per turn, the loop\'s own one included', async () => {
    const server = http.createServer(echoPeer);
    const { turns, answers, clients } = await runBurst(server, 20, 8);
    assert.deepEqual(countPerTurn(turns), [8, 8, 4]);
    assertPeersAnswered(answers, 20);
    await closeAfterClients(server, clients.close);
  });

  it('without it Node accepts one connection per turn (what it works around)', async () => {
    const server = http.createServer(echoPeer);
    const { batching, accepted, turns, answers, clients } = await runBurst(server, 12, 1);
    assert.deepEqual(batching, { unavailable: 'http.acceptBatch is 1' });
    assert.deepEqual(accepted, { loop: 12, batch: 0 }, 'still counted');
    assert.deepEqual(countPerTurn(turns), Array(12).fill(1));
    assertPeersAnswered(answers, 12);
    await closeAfterClients(server, clients.close);
  });

  it('keeps to maxConnections: the loop refuses the rest, as it does without batches', async () => {
    const server = http.createServer(echoPeer);
    server.maxConnections = 5;
    let dropped = 0;
    server.on('drop', () => dropped++);
    const port = await listen(server);
    acceptInBatches(server, { batch: 64, libc: await loadLibc() });
    const turns = connectionTurns(server);
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const clients = burst(port, 9, { ready });
    clients.answers.catch(() => undefined); // the refused ones are reset
    blockUntil(ready);
    // Four are refused (closed unanswered): the worker never sees all nine answers.
    await waitFor(() => dropped >= 4, 'four connections dropped');
    assert.equal(turns.length, 5);
    assert.equal(dropped, 4);
    assert.equal(await new Promise((resolve) => server.getConnections((_, n) => resolve(n))), 5);
    await closeAfterClients(server, clients.close);
  });

  it('works under TLS: the server wraps the sockets it is handed', async (t) => {
    const dir = await makeTempDir('accept-batch-tls-');
    t.after(() => removeDir(dir));
    await execFileP('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1']);
    const server = https.createServer({ key: await readFile(path.join(dir, 'key.pem')), cert: await readFile(path.join(dir, 'cert.pem')) }, echoPeer);
    const { accepted, turns, answers, clients } = await runBurst(server, 16, 64, true);
    assert.deepEqual(countPerTurn(turns), [16]);
    assert.deepEqual(accepted, { loop: 1, batch: 15 });
    assertPeersAnswered(answers, 16);
    await closeAfterClients(server, clients.close);
  });
});

/** Every thread of process `pid` is stopped (state T in /proc). */
async function stopped(pid: number): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const states = await Promise.all(tasks.map(async (task) => / T /.test(await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8').catch(() => ' T '))));
  return states.every(Boolean);
}

describe('accepting connections in batches, in Wharf', () => {
  const metric = async (url: string, by: string) => {
    const text = (await get(`${url}/metrics`)).text();
    return Number(new RegExp(`^wharf_http_connections_accepted_total\\{by="${by}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  for (const { batch, expected } of [{ batch: undefined, expected: 23 }, { batch: 1, expected: 0 }]) {
    it(`a burst queued while the server was stopped: ${expected} of 24 accepted in a batch (http.acceptBatch ${batch ?? 'default'})`, async (t) => {
      const wharf = await startWharfFor(t, batch === undefined ? {} : { config: { http: { acceptBatch: batch } } });
      const before = { batch: await metric(wharf.url, 'batch'), loop: await metric(wharf.url, 'loop') };
      wharf.process.kill('SIGSTOP');
      // The signal is delivered asynchronously: the burst starts once every thread has stopped.
      await waitFor(() => stopped(wharf.process.pid!), 'the server stopped');
      const ready = new Int32Array(new SharedArrayBuffer(4));
      const clients = burst(wharf.port, 24, { path: '/v2/', ready });
      try {
        await waitFor(() => Atomics.load(ready, 0) === 1, 'the burst connected');
      } finally {
        wharf.process.kill('SIGCONT');
      }
      const answers = await clients.answers;
      clients.close();
      assert.equal(answers.length, 24);
      for (const answer of answers) assert.equal(answer.status, 200, answer.body);
      assert.equal((await metric(wharf.url, 'batch')) - before.batch, expected);
      // The rest by the loop, one per turn (and the scrapes' own connections, if any).
      assert.ok((await metric(wharf.url, 'loop')) - before.loop >= 24 - expected);
    });
  }
});
