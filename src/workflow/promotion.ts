import { RegistryError } from '../errors.js';
import type { EventPublisher } from '../events/publisher.js';
import { timeOrderedId } from '../lib/ids.js';
import type { PromotionRecord } from '../metadata/promotions.js';
import type { MetadataStore } from '../metadata/store.js';
import { looksLikeDigest, parseDigest } from '../oci/digest.js';
import { parseRepositoryName, parseTag, projectOf } from '../oci/names.js';
import type { RegistryHooks, WriteContext } from '../registry/hooks.js';

export interface PromotionRequest {
  source: { repository: string; reference: string };
  /** `tag` absent: the source's tag when it was named by tag; null: no tag (by digest only). */
  target: { repository: string; tag?: string | null };
  note?: string | null;
}

/** Who promotes: their rank in the target project (auth/policy.ts promotionRank) and a label for messages. */
export interface Promoter extends WriteContext {
  rank: number;
  role: string;
}

export interface PromotionResult {
  promotion: PromotionRecord;
  mediaType: string;
  size: number;
  /** Manifests copied: the image, an index's children, referrers (signatures, SBOMs) and tag attachments. */
  manifests: number;
  referrers: number;
  /** Blob links the target repository has for them (no bytes are copied). */
  blobs: number;
}

export interface PromotionDeps {
  metadata: MetadataStore;
  hooks: RegistryHooks;
  publisher: EventPublisher;
  now: () => number;
  /** Promotion rank of each role name a stage rule may name. */
  roleRanks: Readonly<Record<string, number>>;
}

const MAX_MANIFESTS = 10_000;

/**
 * Promotes an image into another repository entirely in the metadata database: the manifest (an
 * index with all its children), its referrers (transitively) and cosign-style `sha256-<hex>.*`
 * tag attachments get rows in the target, which gets links to every blob they reference; the tag
 * moves through the same hook as a push (immutable tags, history, events). No byte is read or
 * written in blob storage, so the digest is the same. One transaction: all of it, or nothing.
 */
export function promotions(deps: PromotionDeps) {
  const { metadata, hooks, publisher } = deps;

  async function checkStageRules(tx: MetadataStore, targetProject: string, digest: string, caller: Promoter): Promise<void> {
    const rules = await tx.projectRules.get(targetProject);
    if (!rules) return;
    const minRank = rules.promoteMinRole ? deps.roleRanks[rules.promoteMinRole] : undefined;
    if (rules.promoteMinRole && minRank !== undefined && caller.rank < minRank) {
      throw new RegistryError('DENIED', `stage rule of project ${targetProject}: promoting into ${targetProject} needs role ${rules.promoteMinRole} or above (you are ${caller.role})`, {
        detail: { rule: 'promoteMinRole', project: targetProject, minRole: rules.promoteMinRole },
      });
    }
    if (rules.promoteFrom && !(await tx.promotions.promotedInto(rules.promoteFrom, digest))) {
      throw new RegistryError('DENIED', `stage rule of project ${targetProject}: only digests promoted into ${rules.promoteFrom} may be promoted here, and ${digest} was not`, {
        detail: { rule: 'promoteFrom', project: targetProject, promoteFrom: rules.promoteFrom, digest },
      });
    }
  }

  /** The digest, its children (indexes), its referrers and theirs, and tag attachments: everything to copy. */
  async function closure(tx: MetadataStore, repository: string, digest: string) {
    const all = new Set([digest]);
    const attachments = await tx.tags.withPrefix(repository, `${digest.replace(':', '-')}.`);
    let frontier = [digest, ...attachments.map((a) => a.digest)];
    for (const d of frontier) all.add(d);
    let referrers = 0;
    while (frontier.length > 0) {
      const next: string[] = [];
      const children = await tx.manifests.children(repository, frontier);
      const referring = await tx.manifests.referrerDigests(repository, frontier);
      for (const d of children) if (!all.has(d)) next.push(d);
      for (const d of referring) {
        if (all.has(d)) continue;
        referrers++;
        next.push(d);
      }
      for (const d of next) all.add(d);
      if (all.size > MAX_MANIFESTS) throw new RegistryError('DENIED', `the image has more than ${MAX_MANIFESTS} manifests with its referrers; not promoted`);
      frontier = next;
    }
    return { digests: [...all], referrers, attachments };
  }

  return {
    async promote(request: PromotionRequest, caller: Promoter): Promise<PromotionResult> {
      const source = parseRepositoryName(request.source.repository);
      const byDigest = looksLikeDigest(request.source.reference);
      const reference = byDigest ? parseDigest(request.source.reference).value : parseTag(request.source.reference);
      const target = parseRepositoryName(request.target.repository);
      const targetTag = request.target.tag === undefined ? (byDigest ? null : reference) : request.target.tag === null ? null : parseTag(request.target.tag);
      const note = request.note?.trim() ? request.note.trim().slice(0, 1000) : null;
      const context = { actor: caller.actor, ...(caller.request ? { request: caller.request } : {}) };
      return metadata.transaction(async (tx) => {
        const digest = byDigest ? reference : await tx.tags.resolve(source, reference);
        const manifest = digest ? await tx.manifests.get(source, digest) : undefined;
        if (!digest || !manifest) throw new RegistryError('MANIFEST_UNKNOWN', `${source}:${reference} does not exist`, { detail: { name: source, reference } });
        const targetProject = projectOf(target);
        await checkStageRules(tx, targetProject, digest, caller);
        const now = deps.now();
        const { digests, referrers, attachments } = await closure(tx, source, digest);
        await tx.repositories.ensure(target, now);
        const blobs = await tx.promotions.copyManifests(source, target, digests, now);
        await tx.lineage.copy(source, target, digests, now);
        if (targetTag) await hooks.setTag(tx, target, targetTag, digest, { ...context, via: 'promotion' });
        for (const a of attachments) await hooks.setTag(tx, target, a.name, a.digest, { ...context, via: 'promotion' });
        const promotion: PromotionRecord = { id: timeOrderedId(now), time: now, actor: caller.actor, sourceRepository: source, sourceReference: reference, targetRepository: target, targetTag, digest, note };
        await tx.promotions.add(promotion);
        await publisher.publish(tx, {
          type: 'promotion',
          project: targetProject,
          ...context,
          data: { source: { repository: source, reference }, target: { repository: target, tag: targetTag }, digest, mediaType: manifest.mediaType, size: manifest.size, note, manifests: digests.length },
        });
        return { promotion, mediaType: manifest.mediaType, size: manifest.size, manifests: digests.length, referrers, blobs };
      });
    },
  };
}

export type Promotions = ReturnType<typeof promotions>;
