/**
 * The server's side of a GC run in a worker thread (src/gc/worker-runner.ts): a real worker
 * thread runs a scripted worker (test/fixtures/gc-worker-script.ts) for each way a run can end.
 * The real worker (src/gc-worker.ts) runs in every server test on SQLite: test/api/gc-api.test.ts,
 * test/e2e/gc-kill.test.ts, test/e2e/gc-stress.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import type { GcReport } from '../../src/gc/report.js';
import type { GcLog, GcRequest } from '../../src/gc/runner.js';
import { workerGcRunner } from '../../src/gc/worker-runner.js';

const script = new URL('../fixtures/gc-worker-script.js', import.meta.url);
const request = (actor: string): GcRequest => ({ dryRun: false, trigger: 'api', actor });

function setup() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const log: GcLog = {
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
  const finished: GcReport[] = [];
  const reports = { list: async () => [], get: async (id: string) => ({ id }) as unknown as GcReport };
  const runner = workerGcRunner(reports, { script, config: { label: 'x' }, log, onFinished: (report) => finished.push(report) });
  return { runner, lines, finished };
}

test('a run in a worker: started, its log lines forwarded, its report handed to onFinished here, then idle', async () => {
  const { runner, lines, finished } = setup();
  const { id, done } = await runner.start(request('finishes'));
  assert.equal(id, 'run-1');
  const report = await done;
  assert.equal(report.actor, 'finishes');
  assert.deepEqual(finished, [report], 'onFinished runs once, in this thread, with the report');
  assert.equal(lines[0]?.message, 'from the worker');
  assert.equal((lines[0]?.fields.err as Error).message, 'cloned across threads');
  await runner.idle();
  assert.deepEqual(await runner.get('run-1'), { id: 'run-1' }, 'reports are read in this thread');
});

test('a run the lease refuses: start throws CONFLICT with the holder, nothing is reported', async () => {
  const { runner, finished } = setup();
  await assert.rejects(runner.start(request('conflict')), (error: unknown) => {
    assert.ok(error instanceof RegistryError);
    assert.equal(error.code, 'CONFLICT');
    assert.deepEqual(error.detail, { lease: 'elsewhere' });
    return true;
  });
  await runner.idle();
  assert.deepEqual(finished, []);
});

test('a worker that cannot start its run: start rejects', async () => {
  const { runner } = setup();
  await assert.rejects(runner.start(request('throws-at-start')), /cannot open the store/);
  await runner.idle();
});

test('a worker that dies during its run: done rejects, the failure is logged, idle returns', async () => {
  const { runner, lines, finished } = setup();
  const { done } = await runner.start(request('dies-running'));
  await assert.rejects(done, /gc worker exited \(code 3\) before its run finished/);
  assert.ok(lines.some((l) => l.level === 'error' && l.message === 'gc worker failed'));
  assert.deepEqual(finished, []);
  await runner.idle();
});

test('shutdown: stop() tells a running worker to stop, and resolves once it has ended', async () => {
  const { runner, finished } = setup();
  const { done } = await runner.start(request('runs-until-stopped'));
  await runner.stop();
  assert.equal((await done).status, 'interrupted');
  assert.deepEqual(finished.map((r) => r.status), ['interrupted']);
});
