import { yieldToEventLoop } from '../lib/settle-all.js';

/**
 * How hard a GC run may work (`gc.dutyCycle`). A run is a sequence of steps: a page of reads, a
 * transaction of deletes, a store delete request. At full speed (1) it yields to the event loop
 * between steps and takes big ones. Below 1 it rests after each step for as long as keeps its
 * working time at that share of the wall clock, and takes small steps, so no single statement or
 * store request holds a database connection, a core of the database or the store's hosts for long:
 * measured on Ceph RGW + PostgreSQL, one 250-row transaction or one 50-key DeleteObjects request is
 * a spike in the pulls' latency however long the rests around it (docs/benchmarks.md).
 */
export interface GcPacer {
  /** Rows one planning query reads (a page of tags, manifests, references or links). */
  readonly readRows: number;
  /** Rows one delete transaction takes. */
  readonly rowsPerStep: number;
  /** Keys one bulk store delete request takes. */
  readonly keysPerRequest: number;
  /** Called between steps: rests for the share of time the run must leave to others. */
  rest(): Promise<void>;
}

const FULL_SPEED = { readRows: 1000, rowsPerStep: 250, keysPerRequest: 50 };
const PACED = { readRows: 200, rowsPerStep: 25, keysPerRequest: 5 };
/** A rest never exceeds this, whatever one step took (a store that stalled once). */
const MAX_REST_MS = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function gcPacer(dutyCycle: number, now: () => number = () => performance.now()): GcPacer {
  if (dutyCycle >= 1) return { ...FULL_SPEED, rest: yieldToEventLoop };
  let stepStarted = now();
  return {
    ...PACED,
    async rest() {
      const worked = now() - stepStarted;
      await sleep(Math.min(MAX_REST_MS, (worked * (1 - dutyCycle)) / dutyCycle));
      stepStarted = now();
    },
  };
}

/**
 * `gc.dutyCycle` when the config leaves it out. With SQLite and the filesystem store a server runs
 * GC in a worker thread (gc-services.ts): its statements and the kernel's file deletions take a
 * core the pulls would use, but never their event loop: a half, which measured kept the pulls'
 * p99 under twice its idle figure with a full-scale pass under a minute. With PostgreSQL or an
 * object store much of the work lands on another server's cores that Wharf cannot watch (on a
 * small host, the same cores as the pulls): a quarter, which measured on Ceph RGW + PostgreSQL
 * kept the pulls' p99 under twice its idle figure (docs/benchmarks.md).
 */
export function defaultDutyCycle(database: string, storage: string): number {
  return database === 'sqlite' && storage === 'filesystem' ? 0.5 : 0.25;
}

/** For callers that pass no pacer: full speed. */
export const fullSpeed: GcPacer = gcPacer(1);
