import type { GcScanStore, TagFact } from '../metadata/gc-scan.js';
import { parseDigest } from '../oci/digest.js';
import { projectOf } from '../oci/names.js';
import type { ReclaimedBlob } from '../registry/content.js';
import type { StorageDriver } from '../storage/driver.js';
import { BLOBS_PREFIX, blobKey } from '../storage/keys.js';
import { markRepository, type MarkedManifest } from './mark.js';
import type { GcPacer } from './pacer.js';
import type { ProjectPolicy } from './policy.js';
import { hasRules, tagsToRemove, type TagRemoval } from './retention.js';
import type { TagProtection } from './tag-protection.js';

export interface RepositoryPlan {
  repository: string;
  tags: TagRemoval[];
  manifests: MarkedManifest[];
  links: string[];
}

/** Everything one run would remove, from one consistent reading of the metadata and the store. */
export interface GcPlan {
  repositories: RepositoryPlan[];
  /** Blobs nothing references once the above are gone. */
  blobs: ReclaimedBlob[];
  /** Bytes in the store with no row (a crash between writing and recording them). */
  orphans: ReclaimedBlob[];
  /** Upload sessions (and upload bytes with no session) nobody touched for the purge age. */
  uploads: Array<{ id: string; size: number }>;
}

export interface PlanDeps {
  scan: GcScanStore;
  repositoryNames(after: string | undefined, limit: number): Promise<string[]>;
  storage: Pick<StorageDriver, 'list' | 'stat' | 'uploadSize'>;
  policyOf(project: string): ProjectPolicy;
  protection: TagProtection;
  /** Upload ids the purge would remove now (read-only). */
  staleUploads(): AsyncIterable<string>;
  /** Rests between pages (`gc.dutyCycle`). */
  pacer: GcPacer;
}

export interface PlanOptions {
  now: number;
  /** Links, blobs and orphan bytes untouched since this time may go. */
  before: number;
  /** Untagged manifests of projects without their own grace go when untouched since this time. */
  untaggedBefore: number;
  /** Only this project's repositories (and the blobs they free); no orphan or upload sweep. */
  project?: string;
}

/** Repository names per page (a cheap index scan at any pace). */
const NAMES_PAGE = 1000;
/** Blobs per page: half a read page, as each page also looks up every holder of its digests. */
const blobPage = (pacer: GcPacer) => pacer.readRows / 2;
const HOUR_MS = 3_600_000;
const pairKey = (repository: string, digest: string) => `${repository}\n${digest}`;

/** Reads pages of the pacer's size until one comes back short, resting between pages. */
async function readAll<T, C>(pacer: GcPacer, page: (cursor: C | undefined, limit: number) => Promise<T[]>, cursorOf: (last: T) => C): Promise<T[]> {
  const all: T[] = [];
  let cursor: C | undefined;
  for (;;) {
    const rows = await page(cursor, pacer.readRows);
    all.push(...rows);
    if (rows.length < pacer.readRows) return all;
    cursor = cursorOf(rows[rows.length - 1]!);
    await pacer.rest();
  }
}

/**
 * The plan of a run: per repository, the tags retention removes, the manifests nothing holds
 * then, the links no kept manifest references; then the blobs nothing references once those are
 * gone; then orphan bytes and stale uploads. A dry run reports this plan; a real run executes
 * it with deletes that re-check every item (execute.ts).
 */
export async function planGc(deps: PlanDeps, options: PlanOptions): Promise<GcPlan> {
  const repositories: RepositoryPlan[] = [];
  for (let after: string | undefined; ; ) {
    const names = await deps.repositoryNames(after, NAMES_PAGE);
    for (const repository of names) {
      if (options.project !== undefined && projectOf(repository) !== options.project) continue;
      const plan = await planRepository(deps, options, repository);
      if (plan.tags.length + plan.manifests.length + plan.links.length > 0) repositories.push(plan);
    }
    if (names.length < NAMES_PAGE) break;
    after = names[names.length - 1];
  }
  const blobs = await planBlobs(deps, options, repositories);
  const full = options.project === undefined;
  const orphans = full ? await planOrphans(deps, options) : [];
  const uploads: GcPlan['uploads'] = [];
  if (full) for await (const id of deps.staleUploads()) uploads.push({ id, size: await deps.storage.uploadSize(id).catch(() => 0) });
  return { repositories, blobs, orphans, uploads };
}

async function planRepository(deps: PlanDeps, options: PlanOptions, repository: string): Promise<RepositoryPlan> {
  const { scan, pacer } = deps;
  const tags = await readAll(pacer, (after: string | undefined, limit) => scan.tags(repository, after, limit), (t) => t.name);
  const manifests = await readAll(pacer, (after: string | undefined, limit) => scan.manifests(repository, after, limit), (m) => m.digest);
  const references = await readAll(pacer, (after: { parent: string; child: string } | undefined, limit) => scan.references(repository, after, limit), (r) => r);
  const links = await readAll(pacer, (after: string | undefined, limit) => scan.links(repository, after, limit), (l) => l.digest);
  const cached = new Set(await scan.cached(repository));
  const policy = deps.policyOf(projectOf(repository));

  const removed = await retention(deps, options, repository, policy, tags, new Map(manifests.map((m) => [m.digest, m.lastPulledAt])));
  const gone = new Set(removed.map((t) => t.name));
  const remaining = tags.filter((t) => !gone.has(t.name));
  const stillTagged = new Set(remaining.map((t) => t.digest));
  const untaggedNow = new Set(removed.map((t) => t.digest).filter((d) => !stillTagged.has(d)));
  const untaggedBefore = policy.untaggedGraceHours === undefined ? options.untaggedBefore : options.now - policy.untaggedGraceHours * HOUR_MS;
  const marked = markRepository(
    { tags: remaining, manifests, references, links, cached },
    { untaggedNow, now: options.now, deleteUntagged: policy.deleteUntagged, untaggedBefore, linksBefore: options.before },
  );
  await pacer.rest();
  return { repository, tags: removed, ...marked };
}

async function retention(
  deps: PlanDeps,
  options: PlanOptions,
  repository: string,
  policy: ProjectPolicy,
  tags: TagFact[],
  pulls: Map<string, number | null>,
): Promise<TagRemoval[]> {
  if (!hasRules(policy.retention) || tags.length === 0) return [];
  const protectedTags = new Set<string>();
  for (const tag of tags) if (await deps.protection.isProtected(repository, tag.name)) protectedTags.add(tag.name);
  return tagsToRemove(tags, policy.retention, { now: options.now, lastPulled: (digest) => pulls.get(digest) ?? null, isProtected: (name) => protectedTags.has(name) });
}

/**
 * Blobs untouched since the cutoff that nothing references once the planned manifests and links
 * are gone. A project-scoped run looks only at the digests its own deletions release.
 */
async function planBlobs(deps: PlanDeps, options: PlanOptions, repositories: RepositoryPlan[]): Promise<ReclaimedBlob[]> {
  const goneLinks = new Set<string>();
  const goneManifests = new Set<string>();
  for (const plan of repositories) {
    for (const digest of plan.links) goneLinks.add(pairKey(plan.repository, digest));
    for (const m of plan.manifests) goneManifests.add(pairKey(plan.repository, m.digest));
  }
  const released = new Set<string>();
  for (const key of [...goneLinks, ...goneManifests]) released.add(key.slice(key.indexOf('\n') + 1));

  const unreferenced: ReclaimedBlob[] = [];
  const pageSize = blobPage(deps.pacer);
  const consider = async (candidates: ReclaimedBlob[]) => {
    if (candidates.length === 0) return;
    const holders = await deps.scan.holders(candidates.map((b) => b.digest));
    const held = new Set<string>(holders.cached);
    for (const l of holders.links) if (!goneLinks.has(pairKey(l.repository, l.digest))) held.add(l.digest);
    for (const m of holders.manifests) if (!goneManifests.has(pairKey(m.repository, m.digest))) held.add(m.digest);
    for (const blob of candidates) if (!held.has(blob.digest)) unreferenced.push(blob);
    await deps.pacer.rest();
  };

  if (options.project !== undefined) {
    const digests = [...released].sort();
    for (let i = 0; i < digests.length; i += pageSize) {
      const page = await deps.scan.blobsIn(digests.slice(i, i + pageSize));
      await consider(page.filter((b) => b.touchedAt < options.before).map(({ digest, size }) => ({ digest, size })));
    }
    return unreferenced;
  }
  for (let after: string | undefined; ; ) {
    const page = await deps.scan.blobs(after, pageSize);
    await consider(page.filter((b) => b.touchedAt < options.before).map(({ digest, size }) => ({ digest, size })));
    if (page.length < pageSize) return unreferenced;
    after = page[page.length - 1]!.digest;
  }
}

/** Store keys under blobs/ with no row in any state, older than the cutoff. */
async function planOrphans(deps: PlanDeps, options: PlanOptions): Promise<ReclaimedBlob[]> {
  const orphans: ReclaimedBlob[] = [];
  const batchSize = blobPage(deps.pacer);
  let batch: string[] = [];
  const flush = async () => {
    const known = await deps.scan.known(batch);
    for (const digest of batch) {
      if (known.has(digest)) continue;
      const stat = await deps.storage.stat(blobKey(parseDigest(digest)));
      if (stat && (stat.modifiedAt?.getTime() ?? 0) < options.before) orphans.push({ digest, size: stat.size });
    }
    batch = [];
    await deps.pacer.rest();
  };
  for await (const key of deps.storage.list(BLOBS_PREFIX)) {
    const digest = digestOfKey(key);
    if (digest === undefined) continue;
    batch.push(digest);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return orphans;
}

/** `blobs/sha256/ab/<hex>` → `sha256:<hex>`, or undefined for a key of another shape. */
export function digestOfKey(key: string): string | undefined {
  const match = /^blobs\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)$/.exec(key);
  if (!match) return undefined;
  try {
    return parseDigest(`${match[1]}:${match[2]}`).value;
  } catch {
    return undefined;
  }
}
