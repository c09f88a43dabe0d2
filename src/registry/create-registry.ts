import type { RegistryDeps } from './deps.js';
import type { Registry } from './registry.js';
import { blobUseCases } from './blobs.js';
import { listingUseCases } from './listing.js';
import { manifestUseCases } from './manifests.js';
import { uploadUseCases } from './uploads.js';

/** The registry: blobs, uploads, manifests and listings over one metadata store and one blob store. */
export function createRegistry(deps: RegistryDeps): Registry {
  return {
    ...blobUseCases(deps),
    ...uploadUseCases(deps),
    ...manifestUseCases(deps),
    ...listingUseCases(deps),
  };
}
