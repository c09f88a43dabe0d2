import { RegistryError } from '../errors.js';
import { formatBytes } from '../lib/format-bytes.js';
import { QUOTA_WARNING_PERCENT, type UsageChange } from '../metadata/project-usage.js';
import type { PolicyStore, ProjectUsageRow } from '../metadata/policies.js';

/** What the registry calls on each new digest a push brings to a project (src/registry/deps.ts). */
export interface QuotaGuard {
  check(change: UsageChange): void;
  committed(change: UsageChange): void;
}

/**
 * Per-project quotas: a push that takes a project over its quota is refused with DENIED, naming
 * the quota and the usage (clients print it); usage reaching QUOTA_WARNING_PERCENT of the quota
 * is reported once through `onWarning`. The check runs inside the transaction that counts the new
 * digest, after its usage row was updated under a lock, so two concurrent pushes cannot both
 * pass: the second sees the first's bytes.
 */
export function quotaGuard(options: { onWarning(change: UsageChange): void }): QuotaGuard {
  return {
    check(change) {
      if (change.quotaBytes === null || change.usedBytes <= change.quotaBytes) return;
      const before = change.usedBytes - change.addedBytes;
      throw new RegistryError(
        'DENIED',
        `quota exceeded: project ${change.project} is limited to ${formatBytes(change.quotaBytes)} and uses ${formatBytes(before)}; ` +
          `this push needs ${formatBytes(change.addedBytes)} more`,
        { detail: { project: change.project, quotaBytes: change.quotaBytes, usedBytes: before, neededBytes: change.addedBytes } },
      );
    },
    committed(change) {
      if (change.warn) options.onWarning(change);
    },
  };
}

/** A project's quota as the API and the CLI show it. */
export interface QuotaView {
  project: string;
  limitBytes: number | null;
  usedBytes: number;
  warnPercent: number;
}

export const quotaView = (row: ProjectUsageRow): QuotaView => ({ project: row.project, limitBytes: row.quotaBytes, usedBytes: row.usedBytes, warnPercent: QUOTA_WARNING_PERCENT });

/** Reads and sets project quotas (usage itself is kept by the metadata, with every reference). */
export function projectQuotas(store: PolicyStore) {
  return {
    async get(project: string): Promise<QuotaView> {
      return quotaView(await store.usage(project));
    },
    async set(project: string, limitBytes: number | null): Promise<QuotaView> {
      if (limitBytes !== null && !(Number.isSafeInteger(limitBytes) && limitBytes >= 0)) {
        throw new RegistryError('INVALID_REQUEST', 'a quota is a whole number of bytes, or null for none');
      }
      return quotaView(await store.setQuota(project, limitBytes));
    },
  };
}

export type ProjectQuotas = ReturnType<typeof projectQuotas>;
