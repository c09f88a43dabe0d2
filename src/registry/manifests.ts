import { RegistryError, StorageNotFoundError } from '../errors.js';
import { digestOf, looksLikeDigest, parseDigest } from '../oci/digest.js';
import { parseManifest, mustExist, type ParsedManifest } from '../oci/manifest.js';
import { acceptsMediaType, bareMediaType } from '../oci/media-types.js';
import { parseTag } from '../oci/names.js';
import { LruCache } from '../lib/lru.js';
import { blobKey } from '../storage/keys.js';
import { manifestEntry } from '../metadata/manifests.js';
import { admitUsage, usageCommitted, type RegistryDeps } from './deps.js';
import { plainHooks, type DeleteTarget, type WriteContext } from './hooks.js';
import type { ManifestContent, ManifestInfo, Registry } from './registry.js';
import type { PlacementJournal } from './placement-journal.js';

const MANIFEST_CACHE_BYTES = 64 << 20;

type SizesOf = (repository: string, digests: readonly string[]) => Promise<Map<string, number>>;

export function manifestUseCases(deps: RegistryDeps): Pick<Registry, 'statManifest' | 'getManifest' | 'putManifest' | 'deleteManifest'> {
  const { metadata, storage } = deps;
  const hooks = deps.hooks ?? plainHooks(deps.now);
  const anonymous: WriteContext = { actor: 'anonymous' };
  // Manifests are immutable by digest, so their content can be cached freely. The cache holds the
  // whole answer, not only the bytes, and a pull returns the cached object itself: building a fresh
  // one per GET got ~100 B of every manifest GET promoted to the old generation under load
  // (measured; docs/benchmarks.md, "Peak memory"). So the objects are frozen: nobody may change them.
  const contentByDigest = new LruCache<string, Readonly<ManifestContent>>(MANIFEST_CACHE_BYTES, (c) => c.bytes.length);
  const remember = (info: ManifestInfo, bytes: Buffer): Readonly<ManifestContent> => {
    const content = Object.freeze({ digest: info.digest, mediaType: info.mediaType, size: info.size, bytes });
    contentByDigest.set(info.digest, content);
    return content;
  };

  async function resolve(repository: string, reference: string, accept?: Set<string>): Promise<ManifestInfo> {
    const byDigest = looksLikeDigest(reference);
    // Tags are read from the database on every request: a tag moved by another instance is seen at once.
    const record = await metadata.manifests.describe(repository, byDigest ? { digest: parseDigest(reference).value } : { tag: parseTag(reference) });
    if (!record) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name: repository, reference } });
    // A digest names exact bytes; only a tag is negotiated against Accept.
    if (!byDigest && accept && !acceptsMediaType(accept, record.mediaType)) {
      throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${record.mediaType}, which the Accept header does not allow`, {
        detail: { name: repository, reference, mediaType: record.mediaType },
      });
    }
    return { digest: record.digest, mediaType: record.mediaType, size: record.size };
  }

  /**
   * What the manifest refers to must be in the repository (MANIFEST_BLOB_UNKNOWN), each with the
   * size its descriptor declares (MANIFEST_INVALID naming the first that differs): sizes feed the
   * console, usage and quotas. One query for the blobs and one for the child manifests; inside
   * the storing transaction, with the rows locked against GC (docs/gc.md).
   */
  async function checkReferences(repository: string, parsed: ParsedManifest, blobsIn: SizesOf, manifestsIn: SizesOf): Promise<void> {
    const blobs = parsed.blobs.filter(mustExist);
    const blobSizes = await blobsIn(repository, blobs.map((d) => d.digest));
    const manifestSizes = await manifestsIn(repository, parsed.manifests.map((d) => d.digest));
    const checked = [...blobs.map((d) => ({ d, stored: blobSizes.get(d.digest) })), ...parsed.manifests.map((d) => ({ d, stored: manifestSizes.get(d.digest) }))];
    const missing = [...new Set(checked.filter((c) => c.stored === undefined).map((c) => c.d.digest))];
    if (missing.length > 0) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest references ${missing.length} unknown blob(s) or manifest(s)`, {
        detail: { digests: missing.slice(0, 20) },
      });
    }
    const wrong = checked.find((c) => c.stored !== c.d.size);
    if (wrong) {
      throw new RegistryError('MANIFEST_INVALID', `descriptor of ${wrong.d.digest} declares ${wrong.d.size} bytes, the stored content has ${wrong.stored}`, {
        detail: { digest: wrong.d.digest, size: wrong.d.size, storedSize: wrong.stored },
      });
    }
  }

  async function loadContent(info: ManifestInfo, repository: string): Promise<Readonly<ManifestContent>> {
    const cached = contentByDigest.get(info.digest);
    // The same bytes may be recorded with another media type in another repository.
    if (cached?.mediaType === info.mediaType && cached.size === info.size) return cached;
    if (cached) return remember(info, cached.bytes);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of await storage.read(blobKey(parseDigest(info.digest)))) chunks.push(chunk as Buffer);
    } catch (error) {
      if (error instanceof StorageNotFoundError) {
        deps.onInconsistency('manifest in metadata is missing from storage', { repository, digest: info.digest });
        throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name: repository, reference: info.digest } });
      }
      throw error;
    }
    return remember(info, Buffer.concat(chunks));
  }

  return {
    statManifest: resolve,

    async getManifest(repository, reference, accept): Promise<ManifestContent> {
      return loadContent(await resolve(repository, reference, accept), repository);
    },

    async putManifest(repository, reference, body, contentTypeHeader, context = anonymous) {
      if (body.length > deps.manifestMaxBytes) {
        throw new RegistryError('MANIFEST_INVALID', `manifest is larger than ${deps.manifestMaxBytes} bytes`, { status: 413 });
      }
      const byDigest = looksLikeDigest(reference);
      const expected = byDigest ? parseDigest(reference) : undefined;
      const tag = byDigest ? undefined : parseTag(reference);
      const digest = digestOf(body, expected?.algorithm ?? 'sha256');
      if (expected && expected.value !== digest.value) {
        throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the reference', {
          detail: { expected: expected.value, actual: digest.value },
        });
      }

      // The bytes are written (where no reader sees them) beside the parsing, the checks and the
      // reservation below, and placed once the digest is reserved (publish). Not when this process
      // stored this digest already: then they are almost surely in place, not placed again. With a
      // placement journal nothing is flushed: the transaction below journals the bytes instead.
      const key = blobKey(digest);
      const placements = deps.placements?.accepting() ? deps.placements : undefined;
      const staging = contentByDigest.get(digest.value) ? undefined : storage.stage?.(body, { deferSync: placements !== undefined });
      staging?.catch(() => undefined); // its failure is putBytes'
      let staged = staging !== undefined;
      // The journal that must record the bytes: set once they are placed without a flush.
      let journal: PlacementJournal | undefined;
      const putBytes = async () => {
        if (!staged) return storage.write(key, body);
        staged = false;
        journal = placements;
        return (await staging!).place(key);
      };
      try {
        const parsed = parseManifest(body, bareMediaType(contentTypeHeader));
        // A cheap refusal before any write; the check that counts is repeated under locks below.
        await checkReferences(repository, parsed, metadata.blobs.sizesInRepository, metadata.manifests.sizes);

        // The bytes are in place before the transaction that makes them visible commits (staged
        // bytes are placed while it runs: a rename, not a slow store's upload); on PostgreSQL that
        // transaction holds what the manifest references locked, so GC cannot take them away
        // between this check and the commit (docs/gc.md).
        const { change, entry } = await deps.content.publish({ digest: digest.value, size: body.length }, putBytes, async (tx) => {
          const now = deps.now();
          await tx.repositories.ensure(repository, now);
          await checkReferences(repository, parsed, tx.blobs.lockSizesInRepository, tx.manifests.lockSizes);
          const added = admitUsage(deps, await tx.manifests.add(manifestEntry(repository, digest.value, body.length, parsed, now)));
          await hooks.manifestStored(tx, { repository, digest: digest.value, mediaType: parsed.mediaType, size: body.length, parsed, tag: tag ?? null }, context);
          if (tag) await hooks.setTag(tx, repository, tag, digest.value, { ...context, via: 'push' });
          // putBytes has started by now, if it runs at all (publish starts it before this work).
          return { change: added, entry: await journal?.record(tx, digest.value, body) };
        }, { placeDuringWork: staging !== undefined });
        if (entry) journal?.committed(entry, digest.value);
        usageCommitted(deps, change);
        remember({ digest: digest.value, mediaType: parsed.mediaType, size: body.length }, body);
        return { digest: digest.value, ...(parsed.subject ? { subject: parsed.subject.digest } : {}) };
      } finally {
        // Refused, or the digest's bytes were live already: the staged copy is not needed.
        if (staged) void staging!.then((s) => s.discard(), () => undefined);
      }
    },

    async deleteManifest(repository, reference, context = anonymous) {
      const target: DeleteTarget = looksLikeDigest(reference) ? { digest: parseDigest(reference).value } : { tag: parseTag(reference) };
      const removed = await metadata.transaction(async (tx) => {
        await hooks.beforeDelete(tx, repository, target);
        let gone: boolean;
        if ('tag' in target) {
          gone = await tx.tags.remove(repository, target.tag, deps.now());
        } else {
          await tx.tags.removeForDigest(repository, target.digest);
          gone = await tx.manifests.remove(repository, target.digest);
        }
        if (gone) await hooks.deleted(tx, repository, target, context);
        return gone;
      });
      if (!removed) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name: repository, reference } });
    },
  };
}
