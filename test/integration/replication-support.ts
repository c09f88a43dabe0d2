/**
 * Helpers for the replication tests: a Wharf with an admin (basic auth) whose replication
 * scheduler polls often, and the /api/v1/replication calls a test needs (create a rule, run it,
 * wait for the run to end, read its images).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Response } from '../fixtures/http.js';
import { startWharf, type ConfigObject, type StartWharfOptions, type WharfServer } from '../fixtures/server.js';

export const ADMIN = { username: 'root', password: 'replication-admin-pw' };

/** Replication settings that keep tests short: frequent polls, short leases, quick retries. */
export const FAST_REPLICATION = { pollIntervalMs: 300, leaseSeconds: 3, maxAttempts: 3, retryBaseMs: 200, retryMaxMs: 1_000 };

export async function startReplicatingWharf(config: ConfigObject = {}, options: Omit<StartWharfOptions, 'config' | 'env'> = {}): Promise<WharfServer> {
  return startWharf({
    ...options,
    config: [{ auth: { mode: 'basic' }, replication: FAST_REPLICATION }, config],
    env: { WHARF_ADMIN_USER: ADMIN.username, WHARF_ADMIN_PASSWORD: ADMIN.password },
  });
}

export interface RunJson {
  id: string;
  rule: string | null;
  trigger: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  resumed: number;
  images: { total: number; done: number; skipped: number; failed: number };
  bytes: number;
  blobs: { copied: number; skipped: number };
  error: string | null;
}

export interface ItemJson {
  seq: number;
  repository: string;
  reference: string;
  digest: string | null;
  status: 'pending' | 'running' | 'done' | 'skipped' | 'failed';
  bytes: number;
  attempts: number;
  error: string | null;
}

/** The management API as the admin. */
export function adminApi(server: { url: string }) {
  const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
    request(method, `${server.url}/api/v1${path}`, {
      auth: ADMIN,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) } : {}),
    });
  const ok = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const response = await call(method, path, body);
    assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${response.text()}`);
    return response;
  };
  return {
    call,
    ok,
    createRule: async (rule: Record<string, unknown>) => (await ok('POST', '/replication/rules', rule)).json<{ id: string; name: string }>(),
    runNow: async (rule: string) => (await ok('POST', `/replication/rules/${rule}/runs`)).json<RunJson>(),
    run: async (id: string) => (await ok('GET', `/replication/runs/${id}`)).json<RunJson>(),
    items: async (id: string) => (await ok('GET', `/replication/runs/${id}/items?limit=1000`)).json<{ items: ItemJson[] }>().items,
    runs: async (rule: string) => (await ok('GET', `/replication/runs?rule=${rule}`)).json<{ items: RunJson[] }>().items,
    /** Polls the run until it has finished (or `timeoutMs` passed). */
    async waitForRun(id: string, timeoutMs = 120_000): Promise<RunJson> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = (await ok('GET', `/replication/runs/${id}`)).json<RunJson>();
        if (run.status === 'succeeded' || run.status === 'failed') return run;
        if (Date.now() > deadline) assert.fail(`run ${id} still ${run.status} after ${timeoutMs} ms: ${JSON.stringify(run)}`);
        await sleep(200);
      }
    },
    /** Runs the rule now and waits for the run to end. */
    async runAndWait(rule: string, timeoutMs?: number): Promise<{ run: RunJson; items: ItemJson[] }> {
      const started = (await ok('POST', `/replication/rules/${rule}/runs`)).json<RunJson>();
      const run = await this.waitForRun(started.id, timeoutMs);
      return { run, items: (await ok('GET', `/replication/runs/${run.id}/items?limit=1000`)).json<{ items: ItemJson[] }>().items };
    },
  };
}

export const byReference = (items: ItemJson[]) => Object.fromEntries(items.map((i) => [`${i.repository}:${i.reference}`, i.status]));
