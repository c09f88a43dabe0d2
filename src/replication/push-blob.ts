import { Readable } from 'node:stream';
import { throttled } from '../lib/token-bucket.js';
import type { MetadataStore } from '../metadata/store.js';
import { UpstreamError } from '../mirror/upstream-error.js';
import { parseDigest } from '../oci/digest.js';
import type { ByteRange, StorageDriver } from '../storage/driver.js';
import { blobKey } from '../storage/keys.js';
import type { CopyContext } from './copy-context.js';
import type { RemoteRegistry } from './remote-registry.js';
import type { PushTarget } from './rule-spec.js';

export interface BlobCopyDeps {
  metadata: MetadataStore;
  storage: StorageDriver;
  remote: RemoteRegistry;
  target: PushTarget;
  now: () => number;
}

export interface BlobToCopy {
  digest: string;
  size: number;
  /** The target repository. */
  repository: string;
  /** Target repositories that may hold the digest already (mount sources), best first. */
  mountFrom: string[];
}

/**
 * Copies one blob to the target unless it is there: HEAD first, then a cross-repository mount,
 * then an upload streamed from the local store through the rule's bandwidth limit — monolithic
 * (one PUT) or in chunks whose progress is saved, so a runner that stops mid-blob is continued
 * from the last chunk the target confirmed, by this instance or another. Returns whether bytes
 * were sent.
 */
export async function copyBlob(deps: BlobCopyDeps, context: CopyContext, blob: BlobToCopy): Promise<boolean> {
  const { remote, metadata } = deps;
  const { repository, digest } = blob;
  if (await remote.hasBlob(repository, digest)) return false;

  let location: string | undefined;
  let offset = 0;
  const saved = await metadata.replicationUploads.get(context.ruleId, repository, digest);
  if (saved) {
    // The target's word, not ours: the last chunk may have landed after the progress was saved.
    const held = await remote.uploadedBytes(repository, saved.location).catch((error: unknown) => {
      if (error instanceof UpstreamError && !error.transient) return undefined;
      throw error;
    });
    if (held !== undefined && held <= blob.size) {
      location = saved.location;
      offset = held;
    }
  }
  if (location === undefined) {
    for (const from of blob.mountFrom) {
      if (from === repository) continue;
      const mounted = await remote.mount(repository, digest, from);
      if (mounted.mounted) return false;
      // The target opened an upload session instead: use it.
      location = mounted.location;
      break;
    }
    location ??= await remote.startUpload(repository);
  }

  const key = blobKey(parseDigest(digest));
  const body = (range: ByteRange) => () => Readable.from(streamRange(deps.storage, key, range, context));
  if (deps.target.upload === 'monolithic' || blob.size === 0) {
    if (offset > 0) {
      // A monolithic upload sends the blob whole: start a fresh session.
      location = await remote.startUpload(repository);
    }
    await remote.finish(repository, location, digest, { stream: body({ start: 0, end: blob.size }), length: blob.size });
  } else {
    // Saved before the first chunk too: a runner that stops during it continues this session.
    if (saved?.location !== location) await metadata.replicationUploads.save(context.ruleId, repository, digest, { location, uploadedBytes: offset }, deps.now());
    let continued = saved !== undefined && location === saved.location;
    while (offset < blob.size) {
      context.signal.throwIfAborted();
      const length = Math.min(deps.target.chunkBytes, blob.size - offset);
      try {
        location = await remote.appendChunk(repository, location, body({ start: offset, end: offset + length }), offset, length);
      } catch (error) {
        // The first chunk of a continued session failed: the target may still hold the session for
        // the stopped runner's request (with no request timeout, for ever). The next attempt opens
        // a new one, sending this blob again rather than waiting on it.
        if (continued && !context.signal.aborted) await metadata.replicationUploads.remove(context.ruleId, repository, digest);
        throw error;
      }
      continued = false;
      offset += length;
      await metadata.replicationUploads.save(context.ruleId, repository, digest, { location, uploadedBytes: offset }, deps.now());
    }
    await remote.finish(repository, location, digest);
  }
  await metadata.replicationUploads.remove(context.ruleId, repository, digest);
  return true;
}

/** `range` of a stored blob, at the rule's rate, counted as it goes. */
async function* streamRange(storage: StorageDriver, key: string, range: ByteRange, context: CopyContext): AsyncGenerator<Buffer> {
  if (range.end === range.start) return;
  const source = await storage.read(key, range);
  yield* throttled(source, context.bucket, (n) => context.progress.bytes(n), context.signal);
}
