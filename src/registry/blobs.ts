import { RegistryError, StorageNotFoundError } from '../errors.js';
import { parseDigest } from '../oci/digest.js';
import { blobKey } from '../storage/keys.js';
import type { RegistryDeps } from './deps.js';
import { plainHooks } from './hooks.js';
import type { BlobContent, BlobInfo, Registry } from './registry.js';

export function blobUseCases(deps: RegistryDeps): Pick<Registry, 'statBlob' | 'readBlob' | 'deleteBlob'> {
  const { metadata, storage } = deps;
  const hooks = deps.hooks ?? plainHooks(deps.now);

  async function statBlob(repository: string, digest: string): Promise<BlobInfo> {
    parseDigest(digest);
    const found = await metadata.blobs.findInRepository(repository, digest);
    if (!found) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
    return { digest: found.digest, size: Number(found.size) };
  }

  return {
    statBlob,

    async readBlob(repository, digest, options = {}): Promise<BlobContent> {
      const info = await statBlob(repository, digest);
      const key = blobKey(parseDigest(digest));
      const { range } = options;
      if (options.allowRedirect && storage.redirectUrl && !range) {
        const url = await storage.redirectUrl(key, deps.redirectTtlSeconds);
        if (url) return { ...info, redirectUrl: url };
      }
      const missing = (error: unknown) => {
        if (!(error instanceof StorageNotFoundError)) return error;
        deps.onInconsistency('blob in metadata is missing from storage', { repository, digest });
        return new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
      };
      const withRange = range ? { range } : {};
      if (storage.pipeTo) {
        const pipeTo = storage.pipeTo.bind(storage);
        return { ...info, ...withRange, pipeTo: (write) => pipeTo(key, range, write).catch((error: unknown) => Promise.reject(missing(error))) };
      }
      try {
        return { ...info, ...withRange, stream: await storage.read(key, range) };
      } catch (error) {
        throw missing(error);
      }
    },

    async deleteBlob(repository, digest) {
      parseDigest(digest);
      // Only the link goes: the bytes may serve other repositories; GC reclaims unreferenced ones.
      const removed = await metadata.transaction(async (tx) => {
        await hooks.beforeBlobDelete(tx, repository, digest);
        return tx.blobs.unlink(repository, digest);
      });
      if (!removed) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
    },
  };
}
