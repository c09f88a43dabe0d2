import type { Readable } from 'node:stream';
import type { ChunkWriter } from '../lib/buffer-pool.js';

/**
 * A blob store, shaped like an object store: flat keys, whole-object writes, and resumable
 * uploads. It knows nothing about registries. Keys are '/'-separated relative paths made of
 * `[A-Za-z0-9._-]` segments (checked by `checkedDriver`); the layout is in `keys.ts`.
 *
 * Every method throws `StorageNotFoundError` for a missing key or upload and `BackendError` for a
 * failure of the backing store; nothing else escapes.
 */
export interface StorageDriver {
  /** Name used in logs and metrics (`filesystem`, `s3`, `memory`). */
  readonly name: string;

  /** Size of the object at `key`, or null when it does not exist. */
  stat(key: string): Promise<ObjectStat | null>;

  /**
   * A stream of the object's bytes, or of `range` (inclusive `start`, exclusive `end`) of them.
   * Throws `StorageNotFoundError` when the key does not exist. The stream is lazy: no byte is
   * read before the caller starts consuming.
   */
  read(key: string, range?: ByteRange): Promise<Readable>;

  /**
   * Optional fast path for serving: calls `write` with the object's bytes (or `range` of them) in
   * order, one chunk at a time, waiting for each promise before reusing that chunk's memory.
   * Throws `StorageNotFoundError` before the first `write` when the key does not exist.
   */
  pipeTo?(key: string, range: ByteRange | undefined, write: ChunkWriter): Promise<void>;

  /**
   * Writes a whole object atomically: readers see either the old object or the complete new one,
   * never a part. The object is durable when the promise resolves. If `body` errors, nothing is
   * written and the error is rethrown.
   */
  write(key: string, body: Readable | Buffer): Promise<void>;

  /**
   * Optional: writes `body` durably where no reader sees it yet, so that a caller can overlap the
   * write with other work and make it the object at `key` later (`StagedObject.place`), or drop it.
   * The filesystem store writes and fsyncs a temporary file. Stores without it are written with
   * `write` when the object is placed.
   *
   * `deferSync` (only where `syncPlaced` exists): nothing is flushed to disk, neither the bytes
   * nor the placement's rename — for a caller that keeps the bytes durably elsewhere until it has
   * called `syncPlaced` (the manifest placement journal, registry/placement-journal.ts).
   */
  stage?(body: Buffer, options?: StageOptions): Promise<StagedObject>;

  /**
   * Optional: makes objects placed from a `deferSync` stage durable (the filesystem store fsyncs
   * each file, then each directory once). A key that is gone meanwhile is skipped.
   */
  syncPlaced?(keys: readonly string[]): Promise<void>;

  /**
   * Optional: makes the local file at `path` the object at `key` by moving it where the store can
   * (the filesystem store renames it: no copy) — `path` is gone afterwards. Atomic and durable
   * like `write`. For a file the process has just written itself (the mirror's spool).
   */
  adopt?(path: string, key: string): Promise<void>;

  /** Removes the object. Removing a missing key is not an error. */
  delete(key: string): Promise<void>;

  /**
   * Optional bulk form of `delete` (S3's DeleteObjects: up to 1,000 keys a request), for GC.
   * Missing keys are not an error; when it throws, any of the keys may or may not be gone.
   */
  deleteMany?(keys: readonly string[]): Promise<void>;

  /** Every key that starts with `prefix`, in no particular order. For GC and purges only. */
  list(prefix: string): AsyncIterable<string>;

  /** Starts an empty resumable upload. `id` is chosen by the caller (a UUID). */
  createUpload(id: string): Promise<void>;

  /**
   * Appends `body` to the upload, which must currently hold exactly `offset` bytes (else
   * `UploadOffsetError`). Resolves with the new size once the bytes are durable enough to be
   * resumed by another process. If `body` fails part-way the promise rejects with the body's
   * error: when that is an `UploadLengthError` (the caller refusing the chunk) nothing of this
   * append stays; otherwise (a client gone) the bytes already stored may stay, to be resumed, and
   * `uploadSize` tells how many.
   */
  appendUpload(id: string, offset: number, body: Readable): Promise<number>;

  /** Bytes the upload holds now, or throws `StorageNotFoundError`. */
  uploadSize(id: string): Promise<number>;

  /** The upload's bytes so far, to rebuild a digest in a process that did not see them arrive. */
  readUpload(id: string): Promise<Readable>;

  /**
   * Makes the upload's bytes the object at `key` and removes the upload. Atomic and durable like
   * `write`. The caller has already verified the digest.
   */
  commitUpload(id: string, key: string): Promise<void>;

  /** Discards the upload and its bytes. Missing uploads are not an error. */
  abortUpload(id: string): Promise<void>;

  /** Ids of uploads whose last change is older than `before`, for the purge task. */
  staleUploads(before: Date): AsyncIterable<string>;

  /**
   * Optional: removes the store's own temporary files last changed before `before` (the
   * filesystem store's: a write or a stage cut off by a crash before its rename), for the purge
   * task; resolves how many it removed.
   */
  purgeTemporaries?(before: Date): Promise<number>;

  /** A short-lived URL a client may GET the object from directly, when the driver supports it. */
  redirectUrl?(key: string, expiresInSeconds: number): Promise<string | null>;

  /** Checks that the store is reachable and usable; throws `BackendError` naming the problem. */
  check(): Promise<void>;

  /** Releases connections and timers. */
  close(): Promise<void>;
}

export interface StageOptions {
  deferSync?: boolean;
}

/** Bytes written by `stage`, not yet an object. */
export interface StagedObject {
  /** Makes the bytes the object at `key`, atomic and durable like `write` (unless staged with `deferSync`). At most once. */
  place(key: string): Promise<void>;
  /** Drops the bytes if they were not placed. Never throws. */
  discard(): Promise<void>;
}

export interface ObjectStat {
  size: number;
  modifiedAt?: Date;
}

/** Half-open byte range: `start` inclusive, `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The upload's size differs from the offset the caller expected. */
export class UploadOffsetError extends Error {
  constructor(readonly id: string, readonly expected: number, readonly actual: number) {
    super(`upload ${id} holds ${actual} bytes, not ${expected}`);
    this.name = 'UploadOffsetError';
  }
}

/**
 * A body's length differs from the one its sender announced. Failing an append's body with it
 * refuses the chunk whole: the driver keeps nothing of that append.
 */
export class UploadLengthError extends Error {
  constructor(readonly expected: number, readonly received: number) {
    super(received > expected ? `chunk carries more than the ${expected} bytes announced` : `chunk carries ${received} bytes, not the ${expected} announced`);
    this.name = 'UploadLengthError';
  }
}
