import type { ReclaimedBlob } from '../registry/content.js';
import type { RetentionReason } from './retention.js';

/** What a run removed (or, dry, would remove), item by item. */
export interface GcItems {
  tags: Array<{ repository: string; tag: string; digest: string; reason: RetentionReason }>;
  manifests: Array<{ repository: string; digest: string; size: number }>;
  links: Array<{ repository: string; digest: string }>;
  /** Blobs deleted, bytes included (a crashed run's unfinished deletions too). */
  blobs: ReclaimedBlob[];
  /** Bytes in the store that had no row. */
  orphans: ReclaimedBlob[];
  /** Upload sessions and upload bytes with no session, with the bytes they held. */
  uploads: Array<{ id: string; size: number }>;
}

export type GcTrigger = 'schedule' | 'api' | 'cli';
export type GcStatus = 'running' | 'finished' | 'failed' | 'interrupted';

export interface GcReport {
  id: string;
  status: GcStatus;
  dryRun: boolean;
  trigger: GcTrigger;
  actor: string;
  project: string | null;
  graceSeconds: number;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  /** Counts of `items` (exact even when the lists are truncated). */
  tags: number;
  manifests: number;
  links: number;
  blobs: number;
  orphans: number;
  uploads: number;
  /** Bytes freed in the store: blobs, orphan bytes and upload bytes. */
  bytesFreed: number;
  /** Deletions that failed (left for the next run). */
  failed: number;
  error: string | null;
  /** Item lists, each cut at ITEM_LIMIT (see `truncated`); only in a single run's view. */
  items?: GcItems;
  truncated?: boolean;
}

/** Item lists longer than this are cut in stored reports (the counts stay exact). */
export const ITEM_LIMIT = 10_000;

export const emptyItems = (): GcItems => ({ tags: [], manifests: [], links: [], blobs: [], orphans: [], uploads: [] });

export function countsOf(items: GcItems): Pick<GcReport, 'tags' | 'manifests' | 'links' | 'blobs' | 'orphans' | 'uploads' | 'bytesFreed'> {
  const bytes = (list: Array<{ size: number }>) => list.reduce((sum, b) => sum + b.size, 0);
  return {
    tags: items.tags.length,
    manifests: items.manifests.length,
    links: items.links.length,
    blobs: items.blobs.length,
    orphans: items.orphans.length,
    uploads: items.uploads.length,
    bytesFreed: bytes(items.blobs) + bytes(items.orphans) + bytes(items.uploads),
  };
}

export function truncateItems(items: GcItems): { items: GcItems; truncated: boolean } {
  const cut = <T>(list: T[]) => list.slice(0, ITEM_LIMIT);
  const truncated = Object.values(items).some((list: unknown[]) => list.length > ITEM_LIMIT);
  return {
    items: { tags: cut(items.tags), manifests: cut(items.manifests), links: cut(items.links), blobs: cut(items.blobs), orphans: cut(items.orphans), uploads: cut(items.uploads) },
    truncated,
  };
}
