import { mapLimit } from '../lib/map-limit.js';
import { looksLikeDigest } from '../oci/digest.js';
import { mustExist, parseManifest } from '../oci/manifest.js';
import type { ManifestContent, Registry } from '../registry/registry.js';
import type { CopyContext, ImageOutcome } from './copy-context.js';
import { copyBlob, type BlobCopyDeps } from './push-blob.js';
import { pushSelects, targetRepository, type PushSpec } from './rule-spec.js';

export interface PushImageDeps extends BlobCopyDeps {
  /** The private registry (undecorated): the source of every manifest and blob. */
  registry: Registry;
  /** Blobs sent to the target at a time, per image. */
  blobConcurrency: number;
}

/** Referrers of referrers (a signature of an SBOM) are followed this deep. */
const REFERRER_DEPTH = 3;

/**
 * Copies one image (`reference`: a tag or a digest of a local repository) to the push target,
 * digest for digest: an index's children first, each manifest after its blobs, then the tag, then
 * its referrers (and those of an index's children). Whatever the target already holds is skipped;
 * a half-copied image is finished by the next attempt, never started over.
 * `copiedTo` remembers which target repository received which blob during the run (mount sources).
 */
export async function pushImage(
  deps: PushImageDeps,
  context: CopyContext,
  spec: PushSpec,
  image: { repository: string; reference: string },
  copiedTo: Map<string, string>,
): Promise<ImageOutcome> {
  const { registry, remote } = deps;
  const source = image.repository;
  const target = targetRepository(spec, source);
  let copied = false;

  const atTarget = async (digest: string) => (await remote.manifestDigest(target, digest)) === digest;

  async function mountSources(digest: string): Promise<string[]> {
    const known = copiedTo.get(digest);
    const local = await deps.metadata.replicationUploads.mountSources(spec.project, digest, 4);
    const others = local.filter((r) => r !== source && pushSelects(spec, r)).map((r) => targetRepository(spec, r));
    return [...new Set([...(known ? [known] : []), ...others])];
  }

  /** Copies `content` and everything it references, then PUTs it as `reference`. */
  async function copyTree(content: ManifestContent, reference: string): Promise<void> {
    context.signal.throwIfAborted();
    const parsed = parseManifest(content.bytes, content.mediaType);
    for (const child of parsed.manifests) {
      if (await atTarget(child.digest)) continue;
      await copyTree(await registry.getManifest(source, child.digest), child.digest);
    }
    await mapLimit(parsed.blobs.filter(mustExist), deps.blobConcurrency, async (descriptor) => {
      context.signal.throwIfAborted();
      const sent = await copyBlob(deps, context, { digest: descriptor.digest, size: descriptor.size, repository: target, mountFrom: await mountSources(descriptor.digest) });
      copiedTo.set(descriptor.digest, target);
      context.progress.blob(sent);
    });
    await remote.putManifest(target, reference, content.bytes, content.mediaType);
    context.progress.bytes(content.bytes.length);
    copied = true;
  }

  async function copyReferrers(subject: string, depth: number): Promise<void> {
    if (depth > REFERRER_DEPTH) return;
    for (const referrer of await registry.listReferrers(source, subject)) {
      if (!(await atTarget(referrer.digest))) await copyTree(await registry.getManifest(source, referrer.digest), referrer.digest);
      await copyReferrers(referrer.digest, depth + 1);
    }
  }

  const top = await registry.getManifest(source, image.reference);
  const byTag = !looksLikeDigest(image.reference);
  const current = await remote.manifestDigest(target, byTag ? image.reference : top.digest);
  if (current !== top.digest) {
    if (byTag && (await atTarget(top.digest))) {
      // The content is there (under another tag, or by digest): only the tag moves.
      await remote.putManifest(target, image.reference, top.bytes, top.mediaType);
      copied = true;
    } else {
      await copyTree(top, byTag ? image.reference : top.digest);
    }
  }
  if (spec.referrers) {
    await copyReferrers(top.digest, 1);
    for (const child of parseManifest(top.bytes, top.mediaType).manifests) await copyReferrers(child.digest, 1);
  }
  return { status: copied ? 'done' : 'skipped', digest: top.digest };
}
