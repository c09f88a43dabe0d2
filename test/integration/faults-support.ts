/** Shared checks for the dependency fault tests (faults-*.test.ts). */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, type Response } from '../fixtures/http.js';
import type { WharfServer } from '../fixtures/server.js';

interface ReadyBody {
  status: string;
  failing: string[];
}

/** The spec's error envelope with code UNAVAILABLE and a 503: no hang, no 500, no stack. */
export function assertUnavailable(response: Response, what: string): void {
  assert.equal(response.status, 503, `${what}: ${response.status} ${response.text()}`);
  const body = response.json<{ errors: Array<{ code: string; message: string }> }>();
  assert.equal(body.errors[0]?.code, 'UNAVAILABLE', what);
  assert.ok(!/\bat \S+ \(/.test(response.text()), `${what}: no stack in the body`);
  assert.ok(response.headers['retry-after'], `${what}: Retry-After`);
}

/** GET /readyz once; resolves with the status, the failing checks and how long it took. */
export async function readiness(srv: Pick<WharfServer, 'url'>): Promise<{ status: number; failing: string[]; ms: number }> {
  const started = Date.now();
  const response = await get(`${srv.url}/readyz`, { timeoutMs: 30_000 });
  const body = response.json<ReadyBody>();
  return { status: response.status, failing: body.failing, ms: Date.now() - started };
}

/** Polls /readyz until it reports `dependency` failing (or, with `ok`, everything passing). */
export async function waitForReadiness(srv: Pick<WharfServer, 'url'> & Partial<WharfServer>, expect: { failing: string } | { ok: true }, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (srv.process && srv.process.exitCode !== null) assert.fail(`the server exited; output:\n${srv.logs?.() ?? ''}`);
    last = await readiness(srv).catch((error: unknown) => error);
    if (typeof last === 'object' && last !== null && 'status' in last) {
      const { status, failing } = last as { status: number; failing: string[] };
      if ('ok' in expect ? status === 200 : status === 503 && failing.includes(expect.failing)) return;
    }
    await sleep(200);
  }
  assert.fail(`readyz never reached ${JSON.stringify(expect)}; last: ${JSON.stringify(last)}`);
}

/** The server process is still running (a dependency failure must not end it). */
export function assertAlive(srv: WharfServer): void {
  assert.equal(srv.process.exitCode, null, `the server exited; output:\n${srv.logs()}`);
  assert.equal(srv.process.signalCode, null, 'the server was not killed');
  assert.ok(!srv.logs().includes('Unhandled'), 'no unhandled error in the logs');
}
