import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import type { RegistryHooks } from './hooks.js';

/** What the registry use cases need from the outside world. */
export interface RegistryDeps {
  metadata: MetadataStore;
  storage: StorageDriver;
  now: () => number;
  /** Largest page a list endpoint returns, whatever `n` asks for. */
  maxPageSize: number;
  /** Largest manifest accepted, in bytes. */
  manifestMaxBytes: number;
  /** Seconds a redirect URL to the store stays valid. */
  redirectTtlSeconds: number;
  /** Called when metadata and storage disagree (a bug or a lost file), so operators can see it. */
  onInconsistency(message: string, fields: Record<string, unknown>): void;
  /** The delivery flow's part in writes (tag rules, history, lineage, events); default: none. */
  hooks?: RegistryHooks;
}
