/**
 * Helpers for the mirror tests: a counting (and, on demand, faulty) HTTP proxy to put in front of
 * an upstream registry, large deterministic blobs generated as streams, and stream hashing.
 */
import { createCipheriv, createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { patch, post, put, type RequestOptions } from '../fixtures/http.js';

export type ProxyMode =
  | 'pass'
  /** Blob GETs: send half the body, then cut the connection. */
  | 'truncate'
  /** Blob GETs: flip bytes in the body (same length). */
  | 'corrupt'
  /** Blob GETs: send the first `stallAfter` bytes, then wait for `release()`. */
  | 'stall'
  /** Every request: 503. */
  | 'error503';

export interface CountingProxy {
  url: string;
  host: string;
  port: number;
  /** `METHOD path` of every request seen, in order. */
  requests: string[];
  /** Request body bytes forwarded to the target (what clients sent: uploads, manifests). */
  bytesIn: number;
  mode: ProxyMode;
  stallAfter: number;
  /** Lets stalled responses continue. */
  release(): void;
  /** Blob GETs seen (`GET /v2/…/blobs/sha256:…`), optionally for one digest. */
  blobGets(digest?: string): number;
  /** Blob requests of any method. */
  blobRequests(): string[];
  reset(): void;
  close(): Promise<void>;
}

const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 128 });

/**
 * A reverse proxy to `target` (http://host:port) that records what it forwards. `keepHost` passes
 * the client's Host header on, so a registry that builds upload Locations from it (Distribution)
 * sends the client back through the proxy. `keepAbandoned` leaves a forwarded request open when
 * its client goes away (a middlebox that does: the target waits for the rest of the body).
 */
export async function startCountingProxy(target: string, options: { keepHost?: boolean; keepAbandoned?: boolean } = {}): Promise<CountingProxy> {
  const base = new URL(target);
  const requests: string[] = [];
  let releaseWaiters: Array<() => void> = [];
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(`${req.method} ${path}`);
    req.on('data', (chunk: Buffer) => (proxy.bytesIn += chunk.length));
    if (proxy.mode === 'error503') {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"test proxy says no"}]}');
      return;
    }
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:[0-9a-f]{64}$/.test(path.split('?')[0]!);
    const upstream = http.request(
      { host: base.hostname, port: base.port, method: req.method, path, headers: { ...req.headers, host: options.keepHost ? req.headers.host : base.host }, agent: upstreamAgent },
      (up) => {
        const mode = isBlobGet && up.statusCode === 200 ? proxy.mode : 'pass';
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (mode === 'pass') {
          up.pipe(res);
          return;
        }
        const total = Number(up.headers['content-length'] ?? 0);
        let sent = 0;
        let paused = false;
        up.on('data', (chunk: Buffer) => {
          if (mode === 'truncate') {
            const room = Math.floor(total / 2) - sent;
            if (room <= 0) return;
            const part = chunk.subarray(0, room);
            sent += part.length;
            res.write(part);
            if (sent >= Math.floor(total / 2)) {
              up.destroy();
              // flush what was written, then cut the connection short of Content-Length
              res.socket?.end();
              setTimeout(() => res.destroy(), 20);
            }
            return;
          }
          if (mode === 'corrupt') {
            const copy = Buffer.from(chunk);
            for (let i = 0; i < copy.length; i += 97) copy[i] = copy[i]! ^ 0xff;
            res.write(copy);
            return;
          }
          // stall: hold the body at `stallAfter` bytes until release()
          if (paused || sent + chunk.length <= proxy.stallAfter) {
            sent += chunk.length;
            res.write(chunk);
            return;
          }
          const room = Math.max(0, proxy.stallAfter - sent);
          res.write(chunk.subarray(0, room));
          sent += chunk.length;
          paused = true;
          up.pause();
          const rest = chunk.subarray(room);
          releaseWaiters.push(() => {
            res.write(rest);
            up.resume();
          });
        });
        up.on('end', () => {
          if (mode !== 'truncate') res.end();
        });
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that goes away mid-request (killed, say) drops the forwarded request too, as a
    // direct connection would: the target must not wait for the rest of an upload body.
    req.on('close', () => {
      if (!req.complete && !options.keepAbandoned) upstream.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished && !options.keepAbandoned) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const isBlob = (r: string) => /\/blobs\/sha256:/.test(r);

  const proxy: CountingProxy = {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    requests,
    bytesIn: 0,
    mode: 'pass',
    stallAfter: 0,
    release() {
      const waiters = releaseWaiters;
      releaseWaiters = [];
      for (const w of waiters) w();
    },
    blobGets(digest) {
      return requests.filter((r) => r.startsWith('GET ') && isBlob(r) && (!digest || r.includes(digest))).length;
    },
    blobRequests() {
      return requests.filter(isBlob);
    },
    reset() {
      requests.length = 0;
      proxy.bytesIn = 0;
    },
    async close() {
      proxy.release();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

/** `size` deterministic pseudo-random bytes (AES-CTR keystream of `seed`), as a stream of 1 MiB chunks. */
export function deterministicStream(seed: string, size: number): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

/** sha256 digest and byte count of a stream, without keeping it. */
export async function hashStream(stream: AsyncIterable<Buffer | string>): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    hash.update(b);
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Pushes a large deterministic blob by streaming it (POST, one chunked PATCH, PUT ?digest=). */
export async function pushStreamedBlob(baseUrl: string, repo: string, seed: string, size: number, options: Pick<RequestOptions, 'auth'> = {}): Promise<string> {
  const { digest } = await hashStream(deterministicStream(seed, size));
  const start = await post(`${baseUrl}/v2/${repo}/blobs/uploads/`, options);
  if (start.status !== 202) throw new Error(`POST uploads: ${start.status} ${start.text()}`);
  const p = await patch(new URL(String(start.headers.location), baseUrl), {
    ...options,
    headers: { 'content-type': 'application/octet-stream' },
    body: deterministicStream(seed, size),
    timeoutMs: 300_000,
  });
  if (p.status !== 202) throw new Error(`PATCH: ${p.status} ${p.text()}`);
  const done = new URL(String(p.headers.location), baseUrl);
  done.searchParams.set('digest', digest);
  const r = await put(done, options);
  if (r.status !== 201) throw new Error(`PUT: ${r.status} ${r.text()}`);
  return digest;
}
