import type { MetadataStore } from '../metadata/store.js';
import { projectOf } from '../oci/names.js';

/** One line of an image's story: "pushed to dev/app:1.0 by alice", "promoted to qa/app:1.0 by bob". */
export interface HistoryEntry {
  time: string;
  /** `pushed`; `promoted`; `tagged` (what the tag pointed at when Wharf started keeping history). */
  action: 'pushed' | 'promoted' | 'tagged';
  actor: string | null;
  repository: string;
  tag: string | null;
  /** Promotions: where from (repository null when the caller may not see it). */
  from: { repository: string | null; reference: string } | null;
  note: string | null;
}

/**
 * The history of a digest across repositories: the tag history's pushes and the promotions,
 * oldest first, limited to projects `canSee` accepts.
 */
export async function imageHistory(metadata: Pick<MetadataStore, 'tagHistory' | 'promotions'>, digest: string, canSee: (project: string) => boolean): Promise<HistoryEntry[]> {
  const entries: Array<HistoryEntry & { ms: number }> = [];
  for (const h of await metadata.tagHistory.ofDigests([digest])) {
    if (h.via === 'promotion' || !canSee(projectOf(h.repository))) continue;
    entries.push({ ms: h.time, time: '', action: h.via === 'push' ? 'pushed' : 'tagged', actor: h.actor, repository: h.repository, tag: h.tag, from: null, note: null });
  }
  for (const p of await metadata.promotions.ofDigests([digest])) {
    if (!canSee(projectOf(p.targetRepository))) continue;
    const from = { repository: canSee(projectOf(p.sourceRepository)) ? p.sourceRepository : null, reference: p.sourceReference };
    entries.push({ ms: p.time, time: '', action: 'promoted', actor: p.actor, repository: p.targetRepository, tag: p.targetTag, from, note: p.note });
  }
  entries.sort((a, b) => a.ms - b.ms);
  return entries.map(({ ms, ...e }) => ({ ...e, time: new Date(ms).toISOString() }));
}
