import { RegistryError } from '../errors.js';
import { parseDigest } from '../oci/digest.js';
import type { RegistryDeps } from './deps.js';
import type { Page, ReferrerDescriptor, Registry } from './registry.js';

export function listingUseCases(deps: RegistryDeps): Pick<Registry, 'listTags' | 'listRepositories' | 'listReferrers'> {
  const { metadata } = deps;

  /** Fetches one more than asked to learn whether a next page exists. */
  async function page(fetch: (limit: number) => Promise<string[]>, n: number | undefined): Promise<Page<string>> {
    const size = Math.min(n ?? deps.maxPageSize, deps.maxPageSize);
    if (size <= 0) return { items: [] };
    const rows = await fetch(size + 1);
    if (rows.length <= size) return { items: rows };
    const items = rows.slice(0, size);
    return { items, next: items[items.length - 1] };
  }

  return {
    async listTags(repository, { n, last }) {
      if (!(await metadata.repositories.exists(repository))) {
        throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: repository } });
      }
      return page((limit) => metadata.tags.list(repository, { last, limit }), n);
    },

    listRepositories({ n, last }) {
      return page((limit) => metadata.repositories.list({ last, limit }), n);
    },

    async listReferrers(repository, digest, artifactType): Promise<ReferrerDescriptor[]> {
      parseDigest(digest);
      const records = await metadata.manifests.referrers(repository, digest, artifactType);
      return records.map((r) => ({
        mediaType: r.mediaType,
        digest: r.digest,
        size: r.size,
        ...(r.artifactType ? { artifactType: r.artifactType } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
      }));
    },
  };
}
