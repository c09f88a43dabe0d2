import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { WharfConfig } from './config/index.js';
import { defaultDutyCycle } from './gc/pacer.js';
import type { GcReport } from './gc/report.js';
import { gcRunner, type GcLog, type GcRunner } from './gc/runner.js';
import type { MetadataStore } from './metadata/store.js';
import type { ContentLifecycle } from './registry/content.js';
import { contentLifecycle } from './registry/content-lifecycle.js';
import { findStaleUploads } from './registry/upload-purge.js';
import type { StorageDriver } from './storage/driver.js';
import { tagProtection } from './workflow/tag-rules.js';

/**
 * The content lifecycle and the GC runner over one metadata store and one blob store: the
 * server's, `wharf gc`'s and the GC worker thread's (gc-worker.ts) are built here alike.
 */
export function gcServices(
  config: WharfConfig,
  deps: { metadata: MetadataStore; storage: StorageDriver; log: GcLog; onFinished?(report: GcReport): void },
): { content: ContentLifecycle; gc: GcRunner } {
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseTtlMs = config.gc.leaseSeconds * 1000;
  const content = contentLifecycle({ metadata: deps.metadata, storage: deps.storage, now: Date.now, holder, leaseTtlMs });
  const gc = gcRunner({
    metadata: deps.metadata,
    storage: deps.storage,
    content,
    staleUploads: async function* (before) {
      for await (const upload of findStaleUploads(deps, before)) yield upload.id;
    },
    now: Date.now,
    holder,
    settings: {
      graceMs: config.gc.graceSeconds * 1000,
      untaggedGraceMs: config.gc.untaggedGraceHours * 3_600_000,
      uploadPurgeAfterMs: config.storage.uploadPurgeAfterHours * 3_600_000,
      leaseTtlMs,
      dutyCycle: config.gc.dutyCycle ?? defaultDutyCycle(config.database.driver, config.storage.driver),
    },
    // Retention never removes a tag an immutable-tag rule holds (docs/workflow.md).
    protection: tagProtection(deps.metadata.projectRules),
    log: deps.log,
    ...(deps.onFinished ? { onFinished: deps.onFinished } : {}),
  });
  return { content, gc };
}

/**
 * Whether a server runs its GC in a worker thread (gc-worker.ts). With SQLite every statement
 * runs synchronously on the thread that issues it, so GC's reads and deletes would stop the
 * pulls' event loop; a worker with its own connection to the file runs them on another core.
 * PostgreSQL's statements are already async, and an in-memory database or store cannot be
 * opened a second time.
 */
export function gcRunsInWorker(config: WharfConfig): boolean {
  const { driver, sqlite } = config.database;
  return driver === 'sqlite' && sqlite.path !== ':memory:' && config.storage.driver !== 'memory';
}
