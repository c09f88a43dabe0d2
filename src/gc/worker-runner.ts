import { Worker } from 'node:worker_threads';
import { RegistryError, type ErrorCode } from '../errors.js';
import type { GcReport } from './report.js';
import type { GcLog, GcRequest, GcRunner } from './runner.js';

/** What a GC worker thread is started with: the server's config and the run to do. */
export interface GcWorkerData<Config> {
  config: Config;
  request: GcRequest;
}

/** What a GC worker thread tells the thread that started it. */
export type GcWorkerMessage =
  | { kind: 'started'; id: string }
  | { kind: 'log'; level: keyof GcLog; fields: Record<string, unknown>; message: string }
  /** The report without its item lists (the stored report has them: `get(id)`). */
  | { kind: 'finished'; report: GcReport }
  /** The run did not start: another one holds the lease (code CONFLICT), or the stores did not open. */
  | { kind: 'refused'; message: string; code?: ErrorCode; detail?: unknown };

/** What the server's thread tells a GC worker: stop at the next step (shutdown). */
export type GcWorkerCommand = { kind: 'stop' };

export interface WorkerRunnerOptions<Config> {
  /** The worker's script (src/gc-worker.ts, compiled). */
  script: URL;
  config: Config;
  /** Where the worker's log lines go. */
  log: GcLog;
  /** After every run, in this thread: the audit log, metrics, events. */
  onFinished?(report: GcReport): void;
}

/**
 * A GC runner whose runs each happen in a worker thread of their own, with its own database
 * connection and store client (gc-worker.ts), so that planning and deleting never stop this
 * thread's event loop. A run's `done` report has its counts but no item lists: read them with
 * `get(id)`. The lease, the marks and the re-checks that keep GC safe beside pushes live
 * in the database (docs/gc.md), so a run in a worker is as safe as one beside it in this thread or
 * in `wharf gc`. Lists and reports are read here, through `reports`.
 */
export function workerGcRunner<Config>(reports: Pick<GcRunner, 'list' | 'get'>, options: WorkerRunnerOptions<Config>): GcRunner {
  /** Each worker with the promise of its exit. */
  const workers = new Map<Worker, Promise<void>>();

  const runner: GcRunner = {
    async start(request) {
      const worker = new Worker(options.script, { workerData: { config: options.config, request } satisfies GcWorkerData<Config> });
      let finish!: (report: GcReport) => void;
      let fail!: (error: Error) => void;
      const done = new Promise<GcReport>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
      // A caller that only starts a run (the API) does not wait for it; a failure is logged below.
      done.catch(() => undefined);
      const exited = new Promise<void>((resolve) =>
        worker.once('exit', () => {
          workers.delete(worker);
          resolve();
        }),
      );
      workers.set(worker, exited);

      return new Promise((resolve, reject) => {
        let state: 'starting' | 'running' | 'finished' = 'starting';
        const failed = (error: Error) => {
          if (state === 'starting') reject(error);
          else if (state === 'running') {
            options.log.error({ err: error }, 'gc worker failed');
            fail(error);
          }
          state = 'finished';
        };
        worker.on('message', (message: GcWorkerMessage) => {
          switch (message.kind) {
            case 'log':
              options.log[message.level](message.fields, message.message);
              return;
            case 'started':
              state = 'running';
              resolve({ id: message.id, done });
              return;
            case 'refused':
              failed(message.code ? new RegistryError(message.code, message.message, { detail: message.detail }) : new Error(message.message));
              return;
            case 'finished':
              state = 'finished';
              options.onFinished?.(message.report);
              finish(message.report);
              return;
          }
        });
        worker.on('error', failed);
        worker.on('exit', (code) => failed(new Error(`the gc worker exited (code ${code}) before its run finished`)));
      });
    },
    async run(request) {
      return (await runner.start(request)).done;
    },
    list: (limit) => reports.list(limit),
    get: (id) => reports.get(id),
    async idle() {
      while (workers.size > 0) await Promise.all(workers.values());
    },
    async stop() {
      for (const worker of workers.keys()) worker.postMessage({ kind: 'stop' } satisfies GcWorkerCommand);
      await runner.idle();
    },
  };
  return runner;
}
