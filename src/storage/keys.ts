/**
 * The storage key layout, the whole of it:
 *
 *   blobs/<algorithm>/<first two hex chars>/<hex>     verified content, manifests included
 *   uploads/<uuid>/...                                 in-progress upload sessions (driver-owned)
 *
 * Nothing else is stored: which repository may serve which blob is metadata, not a key.
 */
import type { Digest } from '../oci/digest.js';

export const blobKey = (digest: Digest): string =>
  `blobs/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}`;

export const BLOBS_PREFIX = 'blobs/';
export const UPLOADS_PREFIX = 'uploads/';
