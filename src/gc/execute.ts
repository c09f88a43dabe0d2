import type { MetadataStore } from '../metadata/store.js';
import type { ContentReclaimer } from '../registry/content.js';
import type { GcPacer } from './pacer.js';
import type { GcPlan } from './plan.js';
import type { GcItems } from './report.js';

export interface ExecuteDeps {
  metadata: MetadataStore;
  content: ContentReclaimer;
  /** Aborts when the GC lease is lost: the run stops before its next delete. */
  signal: AbortSignal;
  /** Step sizes and rests between steps (`gc.dutyCycle`). */
  pacer: GcPacer;
}

export interface ExecuteOptions {
  /** The cutoff of links, blobs and orphan bytes (as planned). */
  before: number;
  /** The upload purge's cutoff. */
  uploadsBefore: number;
}

/**
 * Rows per transaction: the pacer's step (pacer.ts). At full speed few large transactions cost
 * pushes and pulls less than many small ones (each commit is a durable write that holds SQLite's
 * one writer lock); a paced run takes small ones, so none holds the database for long.
 */
function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Groups a chunk's items by repository (one delete statement each, in one transaction). */
function byRepository<T extends { repository: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(item.repository, [...(groups.get(item.repository) ?? []), item]);
  return groups;
}

/**
 * Carries out a plan. Every delete re-checks its item in the statement that deletes it
 * (reclaim.ts), so what changed since the plan was read — a new push, a tag moved back, a pull
 * of an untagged manifest — is left alone. Order: tags, manifests (parents before the children
 * they release, round by round), links, then blobs, orphan bytes, uploads. A transaction takes up
 * to a step's rows, across repositories.
 */
export async function executePlan(plan: GcPlan, deps: ExecuteDeps, options: ExecuteOptions): Promise<{ items: GcItems; failed: number }> {
  const { metadata, content, signal, pacer } = deps;
  const steps = <T>(list: readonly T[]) => chunks(list, pacer.rowsPerStep);
  const items: GcItems = { tags: [], manifests: [], links: [], blobs: [], orphans: [], uploads: [] };
  let failed = 0;
  const stop = () => signal.throwIfAborted();
  const each = <T>(pick: (repo: GcPlan['repositories'][number]) => T[]) => plan.repositories.flatMap((repo) => pick(repo).map((item) => ({ repository: repo.repository, item })));

  for (const batch of steps(each((repo) => repo.tags))) {
    stop();
    await metadata.transaction(async (tx) => {
      for (const [repository, group] of byRepository(batch)) {
        const deleted = new Set(await tx.reclaim.deleteTags(repository, group.map((g) => g.item)));
        for (const { item } of group) if (deleted.has(item.name)) items.tags.push({ repository, tag: item.name, digest: item.digest, reason: item.reason });
      }
    });
    await pacer.rest();
  }
  // A round deletes what nothing holds any more; the next round what those held.
  let remaining = each((repo) => repo.manifests);
  while (remaining.length > 0) {
    const deleted = new Set<string>();
    for (const batch of steps(remaining)) {
      stop();
      await metadata.transaction(async (tx) => {
        for (const [repository, group] of byRepository(batch)) {
          for (const cutoff of new Set(group.map((g) => g.item.before))) {
            const gone = await tx.reclaim.deleteManifests(repository, group.filter((g) => g.item.before === cutoff).map((g) => g.item.digest), cutoff);
            for (const m of gone) {
              deleted.add(`${repository}\n${m.digest}`);
              items.manifests.push({ repository, digest: m.digest, size: m.size });
            }
          }
        }
      });
      await pacer.rest();
    }
    if (deleted.size === 0) break;
    remaining = remaining.filter((m) => !deleted.has(`${m.repository}\n${m.item.digest}`));
  }
  for (const batch of steps(each((repo) => repo.links))) {
    stop();
    await metadata.transaction(async (tx) => {
      for (const [repository, group] of byRepository(batch)) {
        for (const digest of await tx.reclaim.deleteLinks(repository, group.map((g) => g.item), options.before)) items.links.push({ repository, digest });
      }
    });
    await pacer.rest();
  }
  stop();
  const blobs = await content.reclaimBatches(steps(plan.blobs).map((batch) => batch.map((b) => b.digest)), options.before, signal, pacer);
  items.blobs.push(...blobs.deleted);
  failed += blobs.failed.length;
  for (const orphan of plan.orphans) {
    stop();
    if (await content.reclaimOrphan(orphan, signal)) items.orphans.push(orphan);
    await pacer.rest();
  }
  for (const upload of plan.uploads) {
    stop();
    const freed = await content.reclaimUpload(upload.id, options.uploadsBefore).catch(() => {
      failed++;
      return undefined;
    });
    if (freed !== undefined) items.uploads.push({ id: upload.id, size: freed });
    await pacer.rest();
  }
  return { items, failed };
}
