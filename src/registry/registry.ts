import type { Readable } from 'node:stream';
import type { ChunkWriter } from '../lib/buffer-pool.js';
import type { ByteRange } from '../storage/driver.js';
import type { WriteContext } from './hooks.js';

/** A blob as the registry reports it. */
export interface BlobInfo {
  digest: string;
  size: number;
}

/**
 * What a blob GET returns: a URL to send the client to, or the bytes — as `pipeTo` (the fast path:
 * chunks in reused buffers, each handed to `write` and reused once its promise resolves; throws
 * BLOB_UNKNOWN before the first write when the bytes are gone) or as a `stream`.
 */
export interface BlobContent extends BlobInfo {
  range?: ByteRange;
  stream?: Readable;
  pipeTo?: (write: ChunkWriter) => Promise<void>;
  redirectUrl?: string;
}

export interface UploadStatus {
  id: string;
  repository: string;
  /** Bytes received so far. */
  size: number;
}

/** `Content-Range: <start>-<end>` of a chunk, inclusive as the spec writes it. */
export interface ChunkRange {
  start: number;
  end: number;
}

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ManifestContent extends ManifestInfo {
  bytes: Buffer;
  /** Set by the mirror: which upstream served it, and whether from its cache (for the audit log). */
  mirror?: { upstream: string; cache: 'hit' | 'miss' };
}

export interface PutManifestResult {
  digest: string;
  subject?: string;
}

export interface Page<T> {
  items: T[];
  /** The last item, when more follow (for the `Link` header). */
  next?: string;
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * The OCI use cases. src/http calls this; the mirror decorates it. Every method throws
 * `RegistryError` for anything the client can act on.
 */
export interface Registry {
  statBlob(repository: string, digest: string): Promise<BlobInfo>;
  readBlob(repository: string, digest: string, options?: { range?: ByteRange; allowRedirect?: boolean }): Promise<BlobContent>;
  deleteBlob(repository: string, digest: string, context?: WriteContext): Promise<void>;

  startUpload(repository: string): Promise<UploadStatus>;
  /** Links a blob `from` another repository; null when it cannot (the caller then starts an upload). */
  mountBlob(repository: string, digest: string, from: string | undefined): Promise<BlobInfo | null>;
  /** A whole blob in one request (`POST ?digest=` or `PUT` on a fresh session). */
  uploadBlob(repository: string, digest: string, body: Readable): Promise<BlobInfo>;
  appendUpload(repository: string, id: string, body: Readable, range?: ChunkRange): Promise<UploadStatus>;
  uploadStatus(repository: string, id: string): Promise<UploadStatus>;
  finishUpload(repository: string, id: string, digest: string, body?: Readable, range?: ChunkRange): Promise<BlobInfo>;
  cancelUpload(repository: string, id: string): Promise<void>;

  /** Resolves a tag or digest; `accept` restricts media types for tags (content negotiation). */
  statManifest(repository: string, reference: string, accept?: Set<string>): Promise<ManifestInfo>;
  getManifest(repository: string, reference: string, accept?: Set<string>): Promise<ManifestContent>;
  /** `context` says who pushes (events, tag history); default anonymous. */
  putManifest(repository: string, reference: string, body: Buffer, contentType: string | undefined, context?: WriteContext): Promise<PutManifestResult>;
  /** By digest: removes the manifest and every tag on it. By tag: removes the tag only. */
  deleteManifest(repository: string, reference: string, context?: WriteContext): Promise<void>;

  listTags(repository: string, page: { n?: number; last?: string }): Promise<Page<string>>;
  listRepositories(page: { n?: number; last?: string }): Promise<Page<string>>;
  listReferrers(repository: string, digest: string, artifactType?: string): Promise<ReferrerDescriptor[]>;
}
