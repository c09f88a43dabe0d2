import type { MetadataStore } from '../metadata/store.js';
import { projectOf } from '../oci/names.js';

type Store = Pick<MetadataStore, 'lineage' | 'manifests' | 'tagHistory' | 'browse'>;

/** A tag that pointed at a base and has moved on: what makes the images built on it stale. */
export interface StaleReason {
  repository: string;
  tag: string;
  was: string;
  now: string;
}

export interface BaseNode {
  /** null: the base is in a project the caller may not see, or outside Wharf. */
  repository: string | null;
  digest: string;
  tags: string[];
  /** `org.opencontainers.image.base.name` when the image named its base. */
  name: string | null;
  /** How the base was found. */
  source: 'annotation' | 'layers';
  /** Tags of this base that moved on since (empty: it is current). */
  movedOn: StaleReason[];
}

export interface ImageLineage {
  repository: string;
  digest: string;
  /** From the direct base to the root. */
  builtOn: BaseNode[];
  /** Images built directly on this one (for an index: on any of its platforms). */
  usedBy: Array<{ repository: string; digest: string; tags: string[]; stale: boolean }>;
  /** Built on a digest its base tag no longer points at. */
  stale: boolean;
  staleBecause: StaleReason[];
}

export interface LineageAnswer extends ImageLineage {
  /** An index: each platform's own lineage. */
  platforms: Array<ImageLineage & { platform: string | null }>;
}

const MAX_DEPTH = 32;

/** Lineage answers over the index, limited to the projects `canSee` accepts. */
export function lineageQueries(metadata: Store) {
  /** The tags (in visible repositories) that pointed at `digest`, or at an index holding it, and point elsewhere now. */
  async function movedOn(digest: string, canSee: (project: string) => boolean): Promise<StaleReason[]> {
    const related = [digest];
    for (const holder of (await metadata.manifests.holders(digest)).filter((h) => canSee(projectOf(h.repository))).slice(0, 50)) {
      related.push(...(await metadata.manifests.parents(holder.repository, digest)));
    }
    const moved = await metadata.tagHistory.movedFrom(related);
    const seen = new Set<string>();
    const out: StaleReason[] = [];
    for (const m of moved) {
      const key = `${m.repository}:${m.tag}`;
      if (m.now === null || related.includes(m.now) || seen.has(key) || !canSee(projectOf(m.repository))) continue;
      seen.add(key);
      out.push({ repository: m.repository, tag: m.tag, was: m.was, now: m.now });
    }
    return out;
  }

  /** Where a base is, for this caller: its preferred repository when visible, else any visible one. */
  async function locate(digest: string, preferred: string | null, canSee: (project: string) => boolean): Promise<string | null> {
    if (preferred && canSee(projectOf(preferred)) && (await metadata.manifests.get(preferred, digest))) return preferred;
    return (await metadata.manifests.holders(digest)).find((h) => canSee(projectOf(h.repository)))?.repository ?? null;
  }

  async function imageLineage(repository: string, digest: string, canSee: (project: string) => boolean): Promise<ImageLineage> {
    const builtOn: BaseNode[] = [];
    let row = await metadata.lineage.get(repository, digest);
    const seen = new Set([digest]);
    while (row?.base && builtOn.length < MAX_DEPTH && !seen.has(row.base.digest)) {
      const base = row.base;
      seen.add(base.digest);
      const where = await locate(base.digest, base.repository, canSee);
      builtOn.push({
        repository: where,
        digest: base.digest,
        tags: where ? await metadata.browse.tagsOf(where, base.digest) : [],
        name: base.name,
        source: base.source,
        movedOn: await movedOn(base.digest, canSee),
      });
      row = where ? await metadata.lineage.get(where, base.digest) : undefined;
    }
    const children = await metadata.manifests.children(repository, [digest]);
    const dependents = (await metadata.lineage.builtOn([digest, ...children])).filter((d) => canSee(projectOf(d.repository)));
    const staleness = new Map<string, boolean>();
    const usedBy = [];
    for (const d of dependents) {
      const base = d.base!.digest;
      if (!staleness.has(base)) staleness.set(base, (await movedOn(base, canSee)).length > 0);
      usedBy.push({ repository: d.repository, digest: d.digest, tags: await metadata.browse.tagsOf(d.repository, d.digest), stale: staleness.get(base)! });
    }
    const staleBecause = builtOn[0]?.movedOn ?? [];
    return { repository, digest, builtOn, usedBy, stale: staleBecause.length > 0, staleBecause };
  }

  return {
    async lineage(repository: string, digest: string, canSee: (project: string) => boolean): Promise<LineageAnswer> {
      const own = await imageLineage(repository, digest, canSee);
      const children = await metadata.manifests.children(repository, [digest]);
      const platforms = [];
      for (const child of children) {
        if (!(await metadata.lineage.get(repository, child))) continue;
        const stored = (await metadata.browse.manifestExtras(repository, child))?.platforms;
        const parsed = stored ? (JSON.parse(stored) as Array<{ os: string; architecture: string; variant?: string }>) : [];
        const platform = parsed[0] ? [parsed[0].os, parsed[0].architecture, parsed[0].variant].filter(Boolean).join('/') : null;
        platforms.push({ ...(await imageLineage(repository, child, canSee)), platform });
      }
      const stale = own.stale || platforms.some((p) => p.stale);
      return { ...own, stale, staleBecause: [...own.staleBecause, ...platforms.flatMap((p) => p.staleBecause)], platforms };
    },
  };
}

export type LineageQueries = ReturnType<typeof lineageQueries>;
