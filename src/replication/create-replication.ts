import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { openSecretBox, type SecretKeyStore } from '../lib/secret-box.js';
import type { MetadataStore } from '../metadata/store.js';
import type { MirrorSync } from '../mirror/sync.js';
import type { Registry } from '../registry/registry.js';
import type { StorageDriver } from '../storage/driver.js';
import { pullEngine } from './pull-engine.js';
import { pushEngine } from './push-engine.js';
import type { ReplicationLog } from './runner.js';
import { createRuleRunner, startReplicationScheduler, type ReplicationScheduler, type RuleRunner, type SchedulerOptions } from './scheduler.js';
import { replicationService, type ReplicationActor, type ReplicationService } from './service.js';

/** The `replication` config section (src/config/sections/replication.ts). */
export interface ReplicationSettings {
  enabled: boolean;
  pollIntervalMs: number;
  leaseSeconds: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  blobConcurrency: number;
  timeoutMs: number;
  runRetentionDays: number;
  encryptionKey?: string | undefined;
}

export interface ReplicationOptions {
  metadata: MetadataStore;
  /** Where generated encryption keys are kept (shared with the webhook secrets). */
  keys: SecretKeyStore;
  storage: StorageDriver;
  /** The private registry (undecorated): what push rules copy from. */
  registry: Registry;
  /** The mirror cache, when upstreams are configured (pull rules need it). */
  mirror: { sync: MirrorSync; upstreams: readonly string[] } | undefined;
  settings: ReplicationSettings;
  manifestMaxBytes: number;
  now: () => number;
  log: ReplicationLog;
  audit?: (actor: ReplicationActor, action: string, rule: string, detail?: Record<string, unknown>) => void;
}

export interface Replication {
  service: ReplicationService;
  /** Looks for work now (an image was queued by a trigger: see triggers.ts). */
  wake(): void;
  /** Starts looking for work on this instance (serve), unless `replication.enabled` is false. */
  startScheduler(): void;
  /** Runs one rule's pending runs in this process (the CLI), under the rule's lease. */
  runner: RuleRunner;
  close(): Promise<void>;
}

/** Replication wired together: secrets, engines, the service, triggers and this instance's scheduler. */
export async function createReplication(options: ReplicationOptions): Promise<Replication> {
  const { metadata, settings, now, log } = options;
  const secrets = await openSecretBox(options.keys, { name: 'replication.encryptionKey', value: settings.encryptionKey }, now());
  const schedulerOptions: SchedulerOptions = {
    metadata,
    engines: {
      pull: options.mirror && pullEngine({ sync: options.mirror.sync, metadata, manifestMaxBytes: options.manifestMaxBytes, blobConcurrency: settings.blobConcurrency }),
      push: pushEngine({ metadata, storage: options.storage, registry: options.registry, secrets, now, blobConcurrency: settings.blobConcurrency, timeoutMs: settings.timeoutMs }),
    },
    retry: { maxAttempts: settings.maxAttempts, baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs },
    now,
    log,
    holder: `${hostname()}:${process.pid}:${randomUUID()}`,
    leaseTtlMs: settings.leaseSeconds * 1000,
    pollIntervalMs: settings.pollIntervalMs,
    runRetentionMs: settings.runRetentionDays * 86_400_000,
  };
  let scheduler: ReplicationScheduler | undefined;
  const wake = () => scheduler?.wake();
  const service = replicationService({
    metadata,
    secrets,
    upstreams: new Set(options.mirror?.upstreams ?? []),
    now,
    onChange: wake,
    ...(options.audit ? { audit: options.audit } : {}),
  });
  const runner = createRuleRunner(schedulerOptions);
  return {
    service,
    wake,
    startScheduler() {
      if (settings.enabled && !scheduler) scheduler = startReplicationScheduler(schedulerOptions);
    },
    runner,
    async close() {
      await scheduler?.stop();
      await runner.abortAll(new Error('wharf is stopping'), 10_000);
    },
  };
}
