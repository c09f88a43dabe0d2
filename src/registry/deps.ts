import type { MetadataStore } from '../metadata/store.js';
import type { UsageChange } from '../metadata/project-usage.js';
import type { StorageDriver } from '../storage/driver.js';
import type { RegistryHooks } from './hooks.js';
import type { ContentPublisher } from './content.js';
import type { PlacementJournal } from './placement-journal.js';

/**
 * Quotas, as the registry sees them: each new digest a push brings to a project is checked in
 * the transaction that adds it (a refusal rolls it back), and the changes that reached the
 * warning threshold are reported once committed.
 */
export interface UsageGuard {
  /** Throws `RegistryError('DENIED')` when `change` takes its project over the quota. */
  check(change: UsageChange): void;
  committed(change: UsageChange): void;
}

/** What the registry use cases need from the outside world. */
export interface RegistryDeps {
  metadata: MetadataStore;
  storage: StorageDriver;
  /** The one way content becomes visible (shared with GC's deletes: docs/gc.md). */
  content: ContentPublisher;
  /** Per-project quotas; none: usage is counted but nothing is refused. */
  usage?: UsageGuard;
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
  /**
   * Manifest bytes placed without a flush and journaled in the database instead (only for a store
   * with `syncPlaced`: the filesystem); none: every manifest is written durably before its commit.
   */
  placements?: PlacementJournal;
}

/** Runs the quota check inside the transaction; returns the change for `usageCommitted`. */
export function admitUsage(deps: Pick<RegistryDeps, 'usage'>, change: UsageChange | undefined): UsageChange | undefined {
  if (change) deps.usage?.check(change);
  return change;
}

export function usageCommitted(deps: Pick<RegistryDeps, 'usage'>, change: UsageChange | undefined): void {
  if (change) deps.usage?.committed(change);
}
