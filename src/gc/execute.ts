import { yieldToEventLoop } from '../lib/settle-all.js';
import type { MetadataStore } from '../metadata/store.js';
import type { ContentReclaimer } from '../registry/content.js';
import type { MarkedManifest } from './mark.js';
import type { GcPlan, RepositoryPlan } from './plan.js';
import type { GcItems } from './report.js';

export interface ExecuteDeps {
  metadata: MetadataStore;
  content: ContentReclaimer;
  /** Aborts when the GC lease is lost: the run stops before its next delete. */
  signal: AbortSignal;
}

export interface ExecuteOptions {
  /** The cutoff of links, blobs and orphan bytes (as planned). */
  before: number;
  /** The upload purge's cutoff. */
  uploadsBefore: number;
}

/** Rows per transaction: short transactions keep SQLite's one writer free for pushes, and pulls flowing. */
const BATCH = 100;

function chunks<T>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += BATCH) out.push(list.slice(i, i + BATCH));
  return out;
}

/**
 * Carries out a plan. Every delete re-checks its item in the statement that deletes it
 * (reclaim.ts), so what changed since the plan was read — a new push, a tag moved back, a pull
 * of an untagged manifest — is left alone. Order: per repository tags, manifests (parents before
 * the children they release, round by round), links; then blobs, orphan bytes, uploads.
 */
export async function executePlan(plan: GcPlan, deps: ExecuteDeps, options: ExecuteOptions): Promise<{ items: GcItems; failed: number }> {
  const { metadata, content, signal } = deps;
  const items: GcItems = { tags: [], manifests: [], links: [], blobs: [], orphans: [], uploads: [] };
  let failed = 0;
  const stop = () => signal.throwIfAborted();

  for (const repo of plan.repositories) {
    stop();
    await executeRepository(repo, metadata, items, options.before, stop);
  }
  for (const batch of chunks(plan.blobs)) {
    stop();
    const result = await content.reclaimBlobs(batch.map((b) => b.digest), options.before, { signal });
    items.blobs.push(...result.deleted);
    failed += result.failed.length;
    await yieldToEventLoop();
  }
  for (const orphan of plan.orphans) {
    stop();
    if (await content.reclaimOrphan(orphan, signal)) items.orphans.push(orphan);
  }
  for (const upload of plan.uploads) {
    stop();
    const freed = await content.reclaimUpload(upload.id, options.uploadsBefore).catch(() => {
      failed++;
      return undefined;
    });
    if (freed !== undefined) items.uploads.push({ id: upload.id, size: freed });
  }
  return { items, failed };
}

async function executeRepository(repo: RepositoryPlan, metadata: MetadataStore, items: GcItems, before: number, stop: () => void): Promise<void> {
  const { repository } = repo;
  for (const batch of chunks(repo.tags)) {
    const deleted = new Set(await metadata.transaction((tx) => tx.reclaim.deleteTags(repository, batch)));
    for (const tag of batch) if (deleted.has(tag.name)) items.tags.push({ repository, tag: tag.name, digest: tag.digest, reason: tag.reason });
    await yieldToEventLoop();
  }
  // A round deletes what nothing holds any more; the next round what those held.
  let remaining: MarkedManifest[] = repo.manifests;
  while (remaining.length > 0) {
    stop();
    const deleted = new Set<string>();
    for (const cutoff of new Set(remaining.map((m) => m.before))) {
      for (const batch of chunks(remaining.filter((m) => m.before === cutoff))) {
        const gone = await metadata.transaction((tx) => tx.reclaim.deleteManifests(repository, batch.map((m) => m.digest), cutoff));
        for (const m of gone) {
          deleted.add(m.digest);
          items.manifests.push({ repository, digest: m.digest, size: m.size });
        }
        await yieldToEventLoop();
      }
    }
    if (deleted.size === 0) break;
    remaining = remaining.filter((m) => !deleted.has(m.digest));
  }
  for (const batch of chunks(repo.links)) {
    stop();
    const gone = await metadata.transaction((tx) => tx.reclaim.deleteLinks(repository, batch, before));
    for (const digest of gone) items.links.push({ repository, digest });
    await yieldToEventLoop();
  }
}
