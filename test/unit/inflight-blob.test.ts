import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { InflightBlob } from '../../src/mirror/inflight-blob.js';
import { parseDigest } from '../../src/oci/digest.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function withDirectory(run: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'wharf-inflight-'));
  try {
    await run(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * An upstream body: `data` cut into pieces of the given sizes (cycling), each pushed on a later
 * turn of the event loop so readers run in between. Reports how far it got.
 */
function upstream(data: Buffer, sizes: number[]): { source: Readable; sent: () => number } {
  let offset = 0;
  let turn = 0;
  const source = new Readable({
    read() {
      void tick().then(() => {
        if (offset >= data.length) {
          this.push(null);
          return;
        }
        const size = sizes[turn++ % sizes.length]!;
        const piece = data.subarray(offset, offset + size);
        offset += piece.length;
        this.push(piece);
      });
    },
  });
  return { source, sent: () => offset };
}

/** Reads a stream whole; `pauseEvery` chunks it waits a little (a slow client). */
async function drain(stream: Readable, pauseEvery = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  let count = 0;
  for await (const chunk of stream) {
    parts.push(chunk as Buffer);
    if (pauseEvery > 0 && ++count % pauseEvery === 0) await sleep(2);
  }
  return Buffer.concat(parts);
}

describe('InflightBlob', () => {
  it('serves a fast reader, a slow one, a late one and a Range, all byte for byte, across chunks larger than its memory window', () =>
    withDirectory(async (directory) => {
      // 3 MiB pieces are larger than the in-memory window: what they push out must be in the file.
      const data = randomBytes(24 << 20);
      const { source, sent } = upstream(data, [16 << 10, 1, 65_536, 3 << 20, 7000, 200_000]);
      const spoolPath = join(directory, 'spool');
      const blob = await InflightBlob.start({ digest: parseDigest(sha256(data)), size: data.length, spoolPath, source });

      const fast = drain(blob.reader());
      const slow = drain(blob.reader(), 4);
      const range = drain(blob.reader({ start: (3 << 20) - 5, end: (9 << 20) + 17 }));
      while (sent() < data.length / 2) await sleep(1);
      const late = drain(blob.reader());

      assert.deepEqual(await blob.settled, { ok: true });
      assert.ok((await fast).equals(data), 'fast reader');
      assert.ok((await late).equals(data), 'late reader');
      assert.ok((await range).equals(data.subarray((3 << 20) - 5, (9 << 20) + 17)), 'range reader');
      assert.ok((await slow).equals(data), 'slow reader');
      await blob.release();
      assert.ok(!existsSync(spoolPath), 'the spool is removed on release');
    }));

  it('HTTP clients at different paces each get the whole blob: no reader stalls when the socket asks for more from inside a push', () =>
    withDirectory(async (directory) => {
      const data = randomBytes(64 << 20);
      const { source } = upstream(data, [65_536]);
      const blob = await InflightBlob.start({ digest: parseDigest(sha256(data)), size: data.length, spoolPath: join(directory, 'spool'), source });
      const server = http.createServer((_request, response) => {
        response.writeHead(200, { 'content-length': data.length });
        pipeline(blob.reader(), response).catch(() => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        const clients = Array.from({ length: 8 }, (_, i) =>
          new Promise<string>((resolve) => {
            http.get({ host: '127.0.0.1', port, path: '/' }, async (response) => {
              const hash = createHash('sha256');
              let received = 0;
              let lastByteAt = Date.now();
              // A reader that stops being fed never ends: report it instead of hanging the test.
              const watchdog = setInterval(() => {
                if (Date.now() - lastByteAt < 10_000) return;
                resolve(`stalled at ${received}`);
                response.destroy();
              }, 500);
              try {
                for await (const chunk of response) {
                  hash.update(chunk as Buffer);
                  received += (chunk as Buffer).length;
                  lastByteAt = Date.now();
                  if (i % 3 === 1) await sleep(1);
                }
                resolve(`sha256:${hash.digest('hex')}`);
              } catch (error) {
                resolve(`failed at ${received}: ${String(error)}`);
              } finally {
                clearInterval(watchdog);
              }
            });
          }),
        );
        assert.deepEqual(await Promise.all(clients), Array.from({ length: 8 }, () => sha256(data)));
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await blob.release();
      }
    }));

  it('never waits for a reader: the download completes while a client reads nothing', () =>
    withDirectory(async (directory) => {
      const data = randomBytes(8 << 20);
      const { source } = upstream(data, [65_536]);
      const blob = await InflightBlob.start({ digest: parseDigest(sha256(data)), size: data.length, spoolPath: join(directory, 'spool'), source });
      const idle = blob.reader();
      assert.deepEqual(await blob.settled, { ok: true });
      assert.equal(blob.bytesReceived, data.length);
      // the idle client, read at last, still gets everything (from the spool file)
      assert.ok((await drain(idle)).equals(data));
      await blob.release();
    }));

  it('a reader just behind the memory window never reads file bytes that are not written yet (writes landing out of order)', () =>
    withDirectory(async (directory) => {
      // The writes in flight run in the thread pool and may land out of order: delay every
      // fourth one, so the file has holes near its end while later pieces are already there.
      const probe = await open(join(directory, 'probe'), 'w');
      const prototype = Object.getPrototypeOf(probe) as { writev: (buffers: Buffer[], position?: number) => Promise<unknown> };
      await probe.close();
      const writev = prototype.writev;
      prototype.writev = async function (this: unknown, buffers: Buffer[], position?: number) {
        if (position !== undefined && (position / 65_536) % 4 === 0) await sleep(20);
        return writev.call(this, buffers, position);
      };
      try {
        const data = randomBytes(24 << 20);
        const { source } = upstream(data, [65_536]);
        const blob = await InflightBlob.start({ digest: parseDigest(sha256(data)), size: data.length, spoolPath: join(directory, 'spool'), source });
        const readers: Array<Promise<{ start: number; ok: boolean }>> = [];
        // Readers that join just behind the window (1 MiB and a bit before the newest byte), at
        // many points of the download: their first read comes from the file.
        while (blob.bytesReceived < data.length - (4 << 20)) {
          const start = blob.bytesReceived - (1 << 20) - (96 << 10);
          if (start > 0) {
            const end = start + (2 << 20);
            readers.push(drain(blob.reader({ start, end })).then((got) => ({ start, ok: got.equals(data.subarray(start, end)) })));
          }
          await sleep(15);
        }
        assert.deepEqual(await blob.settled, { ok: true });
        const results = await Promise.all(readers);
        assert.ok(results.length >= 10, `${results.length} readers`);
        assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.start), [], 'every reader got the bytes of its range');
        await blob.release();
      } finally {
        prototype.writev = writev;
      }
    }));

  for (const [name, body] of [
    ['wrong bytes', (data: Buffer) => Buffer.concat([data.subarray(0, 1000), Buffer.from([data[1000]! ^ 1]), data.subarray(1001)])],
    ['a body cut short', (data: Buffer) => data.subarray(0, data.length - 1)],
    ['a body too long', (data: Buffer) => Buffer.concat([data, Buffer.from('x')])],
  ] as const) {
    it(`${name}: every reader fails, none ever sees a complete body, the outcome says why`, () =>
      withDirectory(async (directory) => {
        const data = randomBytes(3 << 20);
        const { source } = upstream(body(data), [100_000]);
        const blob = await InflightBlob.start({ digest: parseDigest(sha256(data)), size: data.length, spoolPath: join(directory, 'spool'), source });
        const readers = [blob.reader(), blob.reader({ start: data.length - 10, end: data.length })].map(async (stream) => {
          let received = 0;
          try {
            for await (const chunk of stream) received += (chunk as Buffer).length;
          } catch (error) {
            return { failed: error instanceof Error, received };
          }
          return { failed: false, received };
        });
        const outcome = await blob.settled;
        assert.equal(outcome.ok, false);
        assert.ok(blob.failure instanceof Error);
        for (const result of await Promise.all(readers)) {
          assert.equal(result.failed, true, 'the reader errors');
          assert.ok(result.received < data.length, 'the last byte is held back');
        }
        await blob.release();
      }));
  }
});
