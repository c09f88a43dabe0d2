import { looksLikeDigest } from '../oci/digest.js';
import type { ParsedManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { splitImageReference } from '../oci/names.js';
import type { BaseRef, LineageRecord } from '../metadata/lineage.js';
import type { MetadataStore } from '../metadata/store.js';
import { chainId, prefixChainIds } from './layer-chain.js';

export const BASE_NAME = 'org.opencontainers.image.base.name';
export const BASE_DIGEST = 'org.opencontainers.image.base.digest';

type Tx = Pick<MetadataStore, 'lineage' | 'manifests' | 'tags'>;

const IMAGE_CONFIGS = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);

/** The layers of an image manifest worth indexing (not a referrer or other artifact), else undefined. */
export function imageLayers(parsed: ParsedManifest): string[] | undefined {
  if (parsed.kind !== 'image' || parsed.subject || parsed.artifactType || !parsed.config || !IMAGE_CONFIGS.has(parsed.config.mediaType)) return undefined;
  const layers = parsed.blobs.slice(1).map((d) => d.digest);
  return layers.length > 0 ? layers : undefined;
}

/**
 * Indexes a pushed image manifest: its layer chain and prefixes, its base (from the
 * `org.opencontainers.image.base.*` annotations, else the longest indexed image whose layers it
 * starts with), and makes it the base of indexed images that start with all its layers and had
 * none or a shorter one. A few index lookups, never a scan.
 */
export async function indexImage(tx: Tx, repository: string, digest: string, parsed: ParsedManifest, now: number): Promise<void> {
  const layers = imageLayers(parsed);
  if (!layers) return;
  const chain = chainId(layers);
  const prefixes = prefixChainIds(layers);
  const base = await findBase(tx, repository, digest, prefixes, parsed.annotations ?? {});
  const record: LineageRecord = { repository, digest, chainId: chain, layerCount: layers.length, base, createdAt: now };
  if (!(await tx.lineage.add(record, prefixes))) return;
  await adoptDependents(tx, record);
}

async function findBase(tx: Tx, repository: string, digest: string, prefixes: string[], annotations: Record<string, string>): Promise<BaseRef | null> {
  const name = annotations[BASE_NAME] ?? null;
  const split = name ? splitImageReference(name) : undefined;
  const parsedName = split && { repository: split.repository, reference: split.reference ?? 'latest' };
  let annotated = annotations[BASE_DIGEST];
  if (annotated !== undefined && !looksLikeDigest(annotated)) annotated = undefined;
  if (annotated === undefined && parsedName) {
    annotated = looksLikeDigest(parsedName.reference) ? parsedName.reference : await tx.tags.resolve(parsedName.repository, parsedName.reference);
  }
  if (annotated !== undefined) return annotatedBase(tx, annotated, name, parsedName?.repository, prefixes);
  const candidates = (await tx.lineage.withChains(prefixes)).filter((c) => !(c.repository === repository && c.digest === digest));
  const best = longest(candidates, parsedName?.repository);
  return best ? { digest: best.digest, repository: best.repository, name, source: 'layers' } : null;
}

/** The candidate with the most layers; among equals the preferred repository, else the first indexed. */
function longest(candidates: LineageRecord[], preferred: string | undefined): LineageRecord | undefined {
  let best: LineageRecord | undefined;
  for (const c of candidates) {
    if (!best || c.layerCount > best.layerCount || (c.layerCount === best.layerCount && c.repository === preferred && best.repository !== preferred)) best = c;
  }
  return best;
}

/** The annotated base: an image Wharf holds, the matching platform of an index it holds, or an outside image. */
async function annotatedBase(tx: Tx, digest: string, name: string | null, preferred: string | undefined, prefixes: string[]): Promise<BaseRef> {
  const holders = await tx.manifests.holders(digest);
  const holder = holders.find((h) => h.repository === preferred) ?? holders[0];
  if (!holder) return { digest, repository: null, name, source: 'annotation' };
  const children = await tx.manifests.children(holder.repository, [digest]);
  if (children.length > 0) {
    const wanted = new Set(prefixes);
    for (const child of children) {
      const row = await tx.lineage.get(holder.repository, child);
      if (row && wanted.has(row.chainId)) return { digest: child, repository: holder.repository, name, source: 'annotation' };
    }
  }
  return { digest, repository: holder.repository, name, source: 'annotation' };
}

/** Images that start with all of `base`'s layers take it as their base when it is longer than theirs. */
async function adoptDependents(tx: Tx, base: LineageRecord): Promise<void> {
  const dependents = await tx.lineage.startingWith(base.chainId);
  const baseLength = new Map<string, number>();
  for (const d of dependents) {
    if (d.base?.source === 'annotation') continue;
    let current = 0;
    if (d.base) {
      const key = `${d.base.repository}@${d.base.digest}`;
      if (!baseLength.has(key)) baseLength.set(key, d.base.repository ? ((await tx.lineage.get(d.base.repository, d.base.digest))?.layerCount ?? 0) : 0);
      current = baseLength.get(key)!;
    }
    if (current < base.layerCount) await tx.lineage.setBase(d.repository, d.digest, { digest: base.digest, repository: base.repository, name: d.base?.name ?? null, source: 'layers' });
  }
}

/** The indexed images built on `digest` (for an index: on any of its children in `repository`). */
export async function dependentsOf(tx: Tx, repository: string, digest: string): Promise<LineageRecord[]> {
  const children = await tx.manifests.children(repository, [digest]);
  return tx.lineage.builtOn([digest, ...children]);
}
