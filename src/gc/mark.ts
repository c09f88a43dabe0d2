import type { LinkFact, ManifestFact, ReferenceFact, TagFact } from '../metadata/gc-scan.js';

/** One repository as GC reads it (references never cross repositories). */
export interface RepositoryGraph {
  /** Tags after retention. */
  tags: readonly TagFact[];
  manifests: readonly ManifestFact[];
  references: readonly ReferenceFact[];
  links: readonly LinkFact[];
  /** Digests the mirror cache holds here (its eviction decides about them). */
  cached: ReadonlySet<string>;
}

export interface MarkOptions {
  /** Manifests retention untagged in this run: they go now, whatever the untagged grace. */
  untaggedNow: ReadonlySet<string>;
  /** The time a manifest retention untagged must not have been touched or pulled since (the run's start). */
  now: number;
  /** The project lets GC remove manifests nothing holds. */
  deleteUntagged: boolean;
  /** Such a manifest goes when neither pushed, tagged nor pulled since this time. */
  untaggedBefore: number;
  /** A link no kept manifest references goes when untouched since this time. */
  linksBefore: number;
}

export interface MarkedManifest {
  digest: string;
  size: number;
  /** The cutoff the delete re-checks (`touched_at` and `last_pulled_at` before it). */
  before: number;
}

/**
 * Mark for one repository: a manifest is kept when it is tagged, cached, too young to go (or its
 * project keeps untagged manifests), or held by a kept manifest — as a child of an index, or as a
 * referrer of a kept subject. Everything else goes, and with it the links only it referenced.
 * GC's deletes re-check the same conditions row by row (reclaim.ts), so deleting in the order
 * parents, then children, reaches exactly this set when nothing changes meanwhile.
 */
export function markRepository(graph: RepositoryGraph, options: MarkOptions): { manifests: MarkedManifest[]; links: string[] } {
  const present = new Set(graph.manifests.map((m) => m.digest));
  const tagged = new Set(graph.tags.map((t) => t.digest));
  const children = new Map<string, string[]>();
  for (const ref of graph.references) {
    const list = children.get(ref.parent) ?? [];
    list.push(ref.child);
    children.set(ref.parent, list);
  }
  const referrers = new Map<string, string[]>();
  for (const m of graph.manifests) {
    if (m.subject === null) continue;
    const list = referrers.get(m.subject) ?? [];
    list.push(m.digest);
    referrers.set(m.subject, list);
  }

  const kept = new Set<string>();
  const queue: string[] = [];
  const keep = (digest: string) => {
    if (!present.has(digest) || kept.has(digest)) return;
    kept.add(digest);
    queue.push(digest);
  };
  for (const m of graph.manifests) if (!deletable(m, graph, options, tagged)) keep(m.digest);
  while (queue.length > 0) {
    const digest = queue.pop()!;
    for (const child of children.get(digest) ?? []) keep(child);
    for (const referrer of referrers.get(digest) ?? []) keep(referrer);
  }

  const referenced = new Set(graph.cached);
  for (const parent of kept) for (const child of children.get(parent) ?? []) referenced.add(child);
  return {
    manifests: graph.manifests
      .filter((m) => !kept.has(m.digest))
      .map((m) => ({ digest: m.digest, size: m.size, before: options.untaggedNow.has(m.digest) ? options.now : options.untaggedBefore })),
    links: graph.links.filter((l) => !referenced.has(l.digest) && l.touchedAt < options.linksBefore).map((l) => l.digest),
  };
}

function deletable(m: ManifestFact, graph: RepositoryGraph, options: MarkOptions, tagged: ReadonlySet<string>): boolean {
  if (tagged.has(m.digest) || graph.cached.has(m.digest)) return false;
  const before = options.untaggedNow.has(m.digest) ? options.now : options.deleteUntagged ? options.untaggedBefore : undefined;
  if (before === undefined) return false;
  return m.touchedAt < before && (m.lastPulledAt === null || m.lastPulledAt < before);
}
