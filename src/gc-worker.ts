/**
 * One GC run in a worker thread (gc/worker-runner.ts is the other end): it opens the server's
 * database and store from the same config, runs the request like `wharf gc` would, sends its log
 * lines and its report to the server's thread, and exits. The server records the report in the
 * audit log, metrics and events.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WharfConfig } from './config/index.js';
import { RegistryError } from './errors.js';
import type { GcLog } from './gc/runner.js';
import type { GcWorkerCommand, GcWorkerData, GcWorkerMessage } from './gc/worker-runner.js';
import { gcServices } from './gc-services.js';
import { openDatabase } from './metadata/database.js';
import { metadataStore } from './metadata/store.js';
import { checkedDriver } from './storage/checked-driver.js';
import { createStorage, databaseOptions } from './stores.js';

const { config, request } = workerData as GcWorkerData<WharfConfig>;
const port = parentPort!;
const send = (message: GcWorkerMessage) => port.postMessage(message);

/** Errors become plain fields; anything else a clone cannot carry is written as JSON would. */
function cloneable(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(fields);
  } catch {
    return JSON.parse(JSON.stringify(fields, (_key, value: unknown) => (value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value))) as Record<string, unknown>;
  }
}

const log: GcLog = {
  info: (fields, message) => send({ kind: 'log', level: 'info', fields: cloneable(fields), message }),
  warn: (fields, message) => send({ kind: 'log', level: 'warn', fields: cloneable(fields), message }),
  error: (fields, message) => send({ kind: 'log', level: 'error', fields: cloneable(fields), message }),
};

async function main(): Promise<void> {
  const storage = checkedDriver(await createStorage(config), {
    onError: (driver, operation, error) => log.error({ driver, operation, err: error }, 'storage operation failed'),
  });
  try {
    const db = await openDatabase(databaseOptions(config));
    try {
      const { gc } = gcServices(config, { metadata: metadataStore(db), storage, log });
      // The server is shutting down: the run stops at its next step, recorded as interrupted.
      port.on('message', (command: GcWorkerCommand) => {
        if (command.kind === 'stop') void gc.stop();
      });
      const { id, done } = await gc.start(request);
      send({ kind: 'started', id });
      // Counts only: a full pass's item lists are ~100,000 objects, a pause for the thread that
      // would have to decode them. They are in the stored report (GET /api/v1/gc/runs/{id}).
      const { items: _items, ...report } = await done;
      send({ kind: 'finished', report });
    } finally {
      // Listening for commands no longer. Removing the listener leaves the port referenced, which
      // would keep the thread (and the server's shutdown) waiting: unref it.
      port.removeAllListeners('message');
      port.unref();
      await db.destroy();
    }
  } finally {
    await storage.close();
  }
}

main().catch((error: unknown) => {
  const { message } = error as Error;
  send(error instanceof RegistryError ? { kind: 'refused', message, code: error.code, detail: error.detail } : { kind: 'refused', message: String(message ?? error) });
});
