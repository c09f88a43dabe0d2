import { randomUUID, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RegistryError, StorageNotFoundError } from '../errors.js';
import { digestFromHash, newHasher, parseDigest, type Digest } from '../oci/digest.js';
import { KeyedMutex } from '../lib/keyed-mutex.js';
import { feed, HashingCounter } from '../lib/streams.js';
import { UploadLengthError, UploadOffsetError } from '../storage/driver.js';
import { blobKey } from '../storage/keys.js';
import { admitUsage, usageCommitted, type RegistryDeps } from './deps.js';
import type { BlobInfo, ChunkRange, Registry, UploadStatus } from './registry.js';

const TOUCH_INTERVAL_MS = 30_000;

/**
 * Upload sessions. The session row and the bytes are the truth (any process may continue a
 * session); the running sha256 of a session lives in the process that received its bytes, and is
 * used at the final PUT only when it has seen exactly the bytes stored. Otherwise (another
 * process, a restart, a broken PATCH) the digest is rebuilt by re-reading the upload.
 */
export function uploadUseCases(
  deps: RegistryDeps,
): Pick<Registry, 'startUpload' | 'mountBlob' | 'uploadBlob' | 'appendUpload' | 'uploadStatus' | 'finishUpload' | 'cancelUpload'> {
  const { metadata, storage } = deps;
  const hashers = new Map<string, { hash: Hash; size: number }>();
  const touched = new Map<string, number>();

  /**
   * Records progress in the session row at most every TOUCH_INTERVAL_MS: the row's size is
   * informational (the store's size is the truth) and its time only feeds the hours-scale purge,
   * while each write is a durable commit that a chunked push would otherwise pay per PATCH.
   */
  async function touch(id: string, size: number): Promise<void> {
    const now = deps.now();
    if (now - (touched.get(id) ?? 0) < TOUCH_INTERVAL_MS) return;
    touched.set(id, now);
    await metadata.uploads.setSize(id, size, now);
  }
  const sessions = new KeyedMutex();

  async function session(repository: string, id: string) {
    const record = await metadata.uploads.get(id);
    if (!record || record.repository !== repository) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
    }
    return record;
  }

  async function storedSize(id: string): Promise<number> {
    try {
      return await storage.uploadSize(id);
    } catch (error) {
      if (error instanceof StorageNotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
      throw error;
    }
  }

  const rangeError = (id: string, size: number, message: string) =>
    new RegistryError('BLOB_UPLOAD_INVALID', message, { status: 416, detail: { uuid: id, size } });

  /**
   * Appends one body to the session; keeps the in-process hash in step when it can. With a
   * `range`, the body must carry exactly its length: the driver is told to keep nothing of a
   * chunk cut off for being longer, or refused at its end for being shorter.
   */
  async function append(id: string, body: Readable, range: ChunkRange | undefined): Promise<number> {
    const offset = await storedSize(id);
    if (range) {
      if (range.start !== offset) throw rangeError(id, offset, `chunk starts at ${range.start}, expected ${offset}`);
      if (range.end < range.start) throw rangeError(id, offset, 'chunk range end is before its start');
    }
    let hasher = hashers.get(id);
    if (hasher && hasher.size !== offset) {
      hashers.delete(id);
      hasher = undefined;
    }
    if (!hasher && offset === 0) {
      hasher = { hash: newHasher('sha256'), size: 0 };
      hashers.set(id, hasher);
    }
    const length = range && range.end - range.start + 1;
    const exact = length === undefined ? undefined : { length, refuse: (received: number) => new UploadLengthError(length, received) };
    const counter = new HashingCounter(hasher?.hash ?? null, exact);
    // Never destroys the request: the reply to a refused chunk still has to reach the client.
    feed(body, counter);
    let size: number;
    try {
      size = await storage.appendUpload(id, offset, counter);
    } catch (error) {
      counter.destroy();
      // What reached the store (a client gone mid-chunk) stays resumable; the hash no longer matches.
      hashers.delete(id);
      await metadata.uploads.setSize(id, await storage.uploadSize(id).catch(() => offset), deps.now()).catch(() => undefined);
      if (error instanceof UploadOffsetError) throw rangeError(id, error.actual, error.message);
      if (error instanceof UploadLengthError) throw new RegistryError('SIZE_INVALID', error.message, { detail: { uuid: id, expected: error.expected } });
      throw error;
    }
    if (hasher) hasher.size = size;
    await touch(id, size);
    return size;
  }

  async function digestOfUpload(id: string, digest: Digest, size: number): Promise<string> {
    const hasher = hashers.get(id);
    hashers.delete(id);
    if (hasher && hasher.size === size && digest.algorithm === 'sha256') return digestFromHash('sha256', hasher.hash).value;
    const hash = newHasher(digest.algorithm);
    for await (const chunk of await storage.readUpload(id)) hash.update(chunk as Buffer);
    return digestFromHash(digest.algorithm, hash).value;
  }

  /** Verifies and publishes a finished upload as `digest` in `repository`. */
  async function complete(repository: string, id: string, digest: Digest): Promise<BlobInfo> {
    const size = await storedSize(id);
    const actual = await digestOfUpload(id, digest, size);
    if (actual !== digest.value) {
      await discard(id);
      throw new RegistryError('DIGEST_INVALID', undefined, { detail: { expected: digest.value, actual } });
    }
    const key = blobKey(digest);
    const blob = { digest: digest.value, size };
    let placed = false;
    const putBytes = async () => {
      const existing = await storage.stat(key);
      if (existing && existing.size === size) await storage.abortUpload(id);
      else await storage.commitUpload(id, key);
      placed = true;
    };
    let change;
    try {
      change = await deps.content.publish(blob, putBytes, async (tx) => {
        const now = deps.now();
        await tx.repositories.ensure(repository, now);
        const added = admitUsage(deps, await tx.blobs.link(repository, blob, now));
        await tx.uploads.remove(id);
        return added;
      });
    } catch (error) {
      // Over quota: the session is finished either way (the client starts again if it wants).
      if (error instanceof RegistryError && error.code === 'DENIED') await discard(id).catch(() => undefined);
      throw error;
    }
    // The bytes were there already: this upload's copy is not needed.
    if (!placed) await storage.abortUpload(id);
    touched.delete(id);
    usageCommitted(deps, change);
    return blob;
  }

  async function discard(id: string): Promise<void> {
    hashers.delete(id);
    touched.delete(id);
    await storage.abortUpload(id);
    await metadata.uploads.remove(id);
  }

  async function startUpload(repository: string): Promise<UploadStatus> {
    const id = randomUUID();
    const now = deps.now();
    await storage.createUpload(id);
    await metadata.uploads.create({ id, repository, size: 0, createdAt: now, updatedAt: now });
    return { id, repository, size: 0 };
  }

  return {
    startUpload,

    async mountBlob(repository, digest, from) {
      parseDigest(digest);
      if (from === undefined || from === repository) return null;
      const found = await metadata.blobs.findInRepository(from, digest);
      if (!found) return null;
      const blob = { digest, size: Number(found.size) };
      // Only bytes that are there can be mounted: GC may be deleting this digest right now.
      const linked = await deps.content.reference(digest, async (tx) => {
        const now = deps.now();
        await tx.repositories.ensure(repository, now);
        return { change: admitUsage(deps, await tx.blobs.link(repository, blob, now)) };
      });
      if (!linked) return null;
      usageCommitted(deps, linked.change);
      return blob;
    },

    async uploadBlob(repository, digestText, body) {
      const digest = parseDigest(digestText);
      const { id } = await startUpload(repository);
      return sessions.run(id, async () => {
        try {
          await append(id, body, undefined);
          return await complete(repository, id, digest);
        } catch (error) {
          await discard(id).catch(() => undefined);
          throw error;
        }
      });
    },

    appendUpload(repository, id, body, range) {
      return sessions.run(id, async () => {
        await session(repository, id);
        const size = await append(id, body, range);
        return { id, repository, size };
      });
    },

    async uploadStatus(repository, id) {
      await session(repository, id);
      return { id, repository, size: await storedSize(id) };
    },

    finishUpload(repository, id, digestText, body, range) {
      return sessions.run(id, async () => {
        await session(repository, id);
        const digest = parseDigest(digestText);
        if (body) await append(id, body, range);
        return complete(repository, id, digest);
      });
    },

    cancelUpload(repository, id) {
      return sessions.run(id, async () => {
        await session(repository, id);
        await discard(id);
      });
    },
  };
}
