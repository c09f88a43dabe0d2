import { createReadStream, constants as fsConstants } from 'node:fs';
import { open, opendir, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { StorageNotFoundError } from '../errors.js';
import { BufferPool, pageAlignedBuffers, type ChunkWriter } from '../lib/buffer-pool.js';
import { mapLimit } from '../lib/map-limit.js';
import { makeDirectory, openFile, privateModes, type FileModes } from '../lib/file-modes.js';
import { DIRECT_ALIGNMENT, DIRECT_WRITE_SIZE, writeAllv, writeBody, type DirectWrites } from './file-writer.js';
import { STREAM_HIGH_WATER_MARK } from '../lib/streams.js';
import { UploadOffsetError, type ByteRange, type ObjectStat, type StagedObject, type StorageDriver } from './driver.js';

/** At most this many files `syncPlaced` flushes at once (one per eight it is given). */
const SYNC_PLACED_MAX_CONCURRENCY = 16;

/** `blobs/sha256/<ab>`: the shard directories, by the digest's first two hex digits. */
const SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Blobs on a local filesystem. Every object is written to a temporary file in `tmp/`, fsynced,
 * renamed into place, and its directory fsynced: a crash leaves either nothing or the whole object.
 * (A `deferSync` stage skips both fsyncs; its caller keeps the bytes elsewhere until `syncPlaced`.)
 * Uploads live in `uploads/<id>/data`; they are fsynced once, when committed. Directories and
 * files are created with `modes` (owner-only by default).
 *
 * With `directWrites` (the default) uploaded bodies go to disk past the page cache (O_DIRECT), where
 * the filesystem allows it: see `writeBody`.
 */
export function filesystemDriver(rootDirectory: string, modes: FileModes = privateModes, options: { directWrites?: boolean } = {}): StorageDriver {
  const path = (key: string) => join(rootDirectory, key);
  const uploadData = (id: string) => join(rootDirectory, 'uploads', id, 'data');
  const tmpDirectory = join(rootDirectory, 'tmp');
  // Two per stream (one being read, one being sent): 32 for 16 pulls at once, at most 64 MiB.
  const readBuffers = new BufferPool(STREAM_HIGH_WATER_MARK, 16, 64);
  // Up to five per upload (four writes in flight, one being filled); past 16 MiB lent, uploads
  // write through the page cache.
  const directBuffers = new BufferPool(DIRECT_WRITE_SIZE, 5, 20, { allocate: pageAlignedBuffers(), lendAtMost: 64 });
  // Whether this filesystem takes O_DIRECT writes: found by the first write that could use them.
  let directSupported: Promise<boolean> | undefined = options.directWrites === false ? Promise.resolve(false) : undefined;

  /** One aligned page written with O_DIRECT into a new file: refused (EINVAL) where unsupported. */
  async function probeDirectWrites(): Promise<boolean> {
    const probe = join(tmpDirectory, `.direct-${randomUUID()}`);
    const buffer = directBuffers.take();
    try {
      const handle = await inDirectory(tmpDirectory, () => openFile(probe, fsConstants.O_CREAT | fsConstants.O_WRONLY | fsConstants.O_DIRECT, modes));
      try {
        await handle.write(buffer, 0, DIRECT_ALIGNMENT, 0);
        return true;
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EINVAL') return false;
      throw error;
    } finally {
      directBuffers.give(buffer);
      await rm(probe, { force: true });
    }
  }

  /** Runs `write` with an O_DIRECT handle on `file` when this filesystem takes them. */
  async function withDirectWrites<T>(file: string, write: (direct: DirectWrites | undefined) => Promise<T>): Promise<T> {
    directSupported ??= probeDirectWrites().catch((error: unknown) => {
      directSupported = undefined;
      throw error;
    });
    if (!(await directSupported)) return write(undefined);
    // A file on another filesystem than `tmp/` (a mount under `uploads/`) may refuse what the probe took.
    const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_DIRECT).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
      throw error;
    });
    if (!handle) return write(undefined);
    try {
      return await write({ handle, buffers: directBuffers });
    } finally {
      await handle.close();
    }
  }

  /** Opens a file the store should hold; a missing one is reported as `key` not found. */
  async function openExisting(file: string, flags: 'r' | 'r+', key: string): Promise<FileHandle> {
    try {
      return await open(file, flags);
    } catch (error) {
      if (isMissing(error)) throw new StorageNotFoundError(key);
      throw error;
    }
  }

  /**
   * Runs `operation`, creating `directory` only when the operation finds it missing: the common
   * case, a directory that exists, costs no mkdir (every call through the thread pool is a wait).
   */
  async function inDirectory<T>(directory: string, operation: () => Promise<T>, make: (d: string) => Promise<unknown> = (d) => makeDirectory(d, modes)): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (!isMissing(error)) throw error;
      await make(directory);
      return operation();
    }
  }

  /**
   * Creates `directory` (and what is missing above it) so that the new entries survive a crash:
   * the fsync of a file's directory keeps the file's name, not the directory's own name in its
   * parent. So every directory from the new one's parent up to the store's root is fsynced —
   * whoever created them (a concurrent placement may have, a moment ago, and not be done with its
   * fsyncs). Only for a shard directory missing after start (see makeShardDirectories).
   */
  async function makeDurableDirectory(directory: string): Promise<void> {
    await makeDirectory(directory, modes);
    await syncUpToRoot(directory);
  }

  /** Fsyncs every directory from `directory`'s parent up to the store's root. */
  async function syncUpToRoot(directory: string): Promise<void> {
    const root = resolve(rootDirectory);
    for (let parent = dirname(resolve(directory)); parent.startsWith(root); parent = dirname(parent)) {
      await fsyncPath(parent);
      if (parent === root) break;
    }
  }

  /**
   * Makes the 256 shard directories of `blobs/sha256/` that are missing, with one round of fsyncs
   * for all of them: so placements never make one on the way (that costs each first placement
   * into a shard a mkdir and the fsyncs above). Run by the first check(), that is at start.
   */
  async function makeShardDirectories(): Promise<void> {
    const parent = join(rootDirectory, 'blobs', 'sha256');
    await makeDirectory(parent, modes);
    const existing = new Set(await readdir(parent));
    const missing = SHARDS.filter((shard) => !existing.has(shard));
    if (missing.length === 0) return;
    for (const shard of missing) await makeDirectory(join(parent, shard), modes);
    await syncUpToRoot(join(parent, missing[0]!));
  }
  let shardsMade: Promise<void> | undefined;

  /** Renames `source` to be the object at `key`; `durable`: and fsyncs the directory, so the name survives a crash. */
  async function placeFile(source: string, key: string, durable = true): Promise<void> {
    const target = path(key);
    await inDirectory(dirname(target), () => rename(source, target), makeDurableDirectory);
    if (durable) await fsyncPath(dirname(target));
  }

  /**
   * Creates `temporary` (a new name in the temporary directory) with `fill`, made durable as
   * `sync` says: `fsync` after the fill (a stream's many writes); `o_sync` opens it with O_SYNC,
   * for a fill of one write that is then durable already; `none` leaves the flush to the caller
   * (`syncPlaced`). Removed if anything fails.
   */
  async function writeTemporary(temporary: string, fill: (handle: FileHandle) => Promise<unknown>, sync: 'fsync' | 'o_sync' | 'none'): Promise<void> {
    try {
      const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (sync === 'o_sync' ? fsConstants.O_SYNC : 0);
      const handle = await inDirectory(tmpDirectory, () => openFile(temporary, flags, modes));
      try {
        await fill(handle);
        if (sync === 'fsync') await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  /** A temporary file as a staged object: placing renames it, discarding removes it. */
  function placeable(temporary: string, durable = true): StagedObject {
    let settled = false;
    const once = (run: () => Promise<void>) => {
      if (settled) return Promise.resolve();
      settled = true;
      return run();
    };
    return {
      place: (key) =>
        once(async () => {
          try {
            await placeFile(temporary, key, durable);
          } catch (error) {
            await rm(temporary, { force: true });
            throw error;
          }
        }),
      discard: () => once(() => rm(temporary, { force: true }).catch(() => undefined)),
    };
  }

  return {
    name: 'filesystem',

    async stat(key): Promise<ObjectStat | null> {
      try {
        const info = await stat(path(key));
        return info.isFile() ? { size: info.size, modifiedAt: info.mtime } : null;
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    },

    async read(key, range?: ByteRange) {
      // Open first so a missing key is reported now, not as a stream error after headers went out.
      const handle = await openExisting(path(key), 'r', key);
      // An empty range has no inclusive end a read stream could take.
      if (range && range.end <= range.start) {
        await handle.close();
        return Readable.from([]);
      }
      return handle.createReadStream({
        highWaterMark: STREAM_HIGH_WATER_MARK,
        ...(range ? { start: range.start, end: range.end - 1 } : {}),
      });
    },

    async pipeTo(key, range, write) {
      const handle = await openExisting(path(key), 'r', key);
      try {
        const end = range ? range.end : (await handle.stat()).size;
        await pump(handle, range?.start ?? 0, end, readBuffers, write);
      } finally {
        await handle.close();
      }
    },

    async stage(body, options) {
      const temporary = join(tmpDirectory, randomUUID());
      const durable = options?.deferSync !== true;
      // One write(2) of the whole body, with O_SYNC unless deferred: durable when it returns, one
      // trip through the thread pool fewer than a write and an fsync.
      await writeTemporary(temporary, (handle) => writeAllv(handle, [body], 0), durable ? 'o_sync' : 'none');
      return placeable(temporary, durable);
    },

    async syncPlaced(keys) {
      // More at once the more there are: a few leave the thread pool to the requests, but under a
      // stream of PUTs the flushes must keep up, and concurrent fsyncs overlap their waits for the
      // device (measured: docs/benchmarks.md, "Thirteenth session").
      const concurrency = Math.min(SYNC_PLACED_MAX_CONCURRENCY, Math.ceil(keys.length / 8));
      const synced = await mapLimit(keys, concurrency, async (key) => ((await fsyncPath(path(key), { missingOk: true })) ? dirname(path(key)) : undefined));
      const directories = [...new Set(synced.filter((directory) => directory !== undefined))];
      await mapLimit(directories, concurrency, (directory) => fsyncPath(directory));
    },

    async write(key, body) {
      if (Buffer.isBuffer(body)) return (await this.stage!(body)).place(key);
      const temporary = join(tmpDirectory, randomUUID());
      await writeTemporary(temporary, (handle) => withDirectWrites(temporary, (direct) => writeBody(handle, 0, body, { direct })), 'fsync');
      await placeable(temporary).place(key);
    },

    async delete(key) {
      // One unlink (rm would lstat first): GC deletes tens of thousands of these.
      await unlink(path(key)).catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
    },

    async *list(prefix) {
      // Walk only the directory the prefix names, then filter: keys are short paths.
      const slash = prefix.lastIndexOf('/');
      const base = slash === -1 ? '' : prefix.slice(0, slash);
      for await (const key of walk(rootDirectory, base)) {
        if (key.startsWith(prefix)) yield key;
      }
    },

    async createUpload(id) {
      const file = uploadData(id);
      await makeDirectory(dirname(file), modes);
      const handle = await openFile(file, 'wx', modes);
      await handle.close();
    },

    async adopt(source, key) {
      const handle = await open(source, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await placeFile(source, key);
      } catch (error) {
        // Another filesystem than the store's: copy it like any other body.
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await this.write(key, createReadStream(source));
        await rm(source, { force: true });
      }
    },

    async appendUpload(id, offset, body) {
      const file = uploadData(id);
      const handle = await openExisting(file, 'r+', `uploads/${id}`);
      try {
        const current = (await handle.stat()).size;
        if (current !== offset) throw new UploadOffsetError(id, offset, current);
        // No fsync per append: another process reads these bytes from the page cache, and the whole
        // file is fsynced once at commit. After a power loss, the re-hash at commit catches any tear.
        const firstWrite = (buffers: Buffer[]) => claimOffset(file, id, offset, buffers, modes);
        return offset + (await withDirectWrites(file, (direct) => writeBody(handle, offset, body, { firstWrite, direct })));
      } finally {
        await handle.close();
      }
    },

    async uploadSize(id) {
      return sizeOf(uploadData(id), id);
    },

    async readUpload(id) {
      const file = uploadData(id);
      await sizeOf(file, id);
      return createReadStream(file, { highWaterMark: STREAM_HIGH_WATER_MARK });
    },

    async commitUpload(id, key) {
      const file = uploadData(id);
      await sizeOf(file, id);
      const handle = await open(file, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Durable first, then the rename makes the object visible whole.
      await placeFile(file, key);
      await rm(dirname(file), { recursive: true, force: true });
    },

    async abortUpload(id) {
      await rm(dirname(uploadData(id)), { recursive: true, force: true });
    },

    async *staleUploads(before) {
      let ids: string[];
      try {
        ids = await readdir(join(rootDirectory, 'uploads'));
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      for (const id of ids) {
        try {
          const info = await stat(join(rootDirectory, 'uploads', id));
          const data = await stat(uploadData(id)).catch(() => info);
          if (data.mtime < before) yield id;
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
    },

    async purgeTemporaries(before) {
      let names: string[];
      try {
        names = await readdir(tmpDirectory);
      } catch (error) {
        if (isMissing(error)) return 0;
        throw error;
      }
      let removed = 0;
      for (const name of names) {
        const file = join(tmpDirectory, name);
        const info = await stat(file).catch(() => undefined);
        // A write in progress changed its file moments ago; only the long-forgotten go.
        if (!info?.isFile() || info.mtime >= before) continue;
        await unlink(file).then(
          () => removed++,
          (error: unknown) => {
            if (!isMissing(error)) throw error;
          },
        );
      }
      return removed;
    },

    async check() {
      await makeDirectory(tmpDirectory, modes);
      // Once; a failure is tried again at the next check.
      shardsMade ??= makeShardDirectories().catch((error: unknown) => {
        shardsMade = undefined;
        throw error;
      });
      await shardsMade;
      const probe = join(tmpDirectory, `.check-${randomUUID()}`);
      // A page of bytes, not an empty file: a full disk still has inodes for empty files.
      const handle = await openFile(probe, fsConstants.O_CREAT | fsConstants.O_WRONLY, modes);
      try {
        await handle.write(Buffer.alloc(4096));
      } finally {
        await handle.close();
        await rm(probe, { force: true });
      }
    },

    async close() {},
  };
}

/**
 * Reads [start, end) into two alternating pooled buffers: one is being read while the other is
 * being written, and a buffer is reread only after its write has resolved.
 */
async function pump(handle: FileHandle, start: number, end: number, pool: BufferPool, write: ChunkWriter): Promise<void> {
  const buffers = [pool.take(), pool.take()] as const;
  let inFlight: Promise<void> | undefined;
  try {
    for (let position = start, turn = 0; position < end; turn ^= 1) {
      const buffer = buffers[turn]!;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
      if (bytesRead === 0) throw new Error(`file ended at ${position}, expected ${end} bytes`);
      position += bytesRead;
      if (inFlight) await inFlight;
      inFlight = write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      // It may fail while the next read is pending; it is awaited (and so rethrown) just after.
      inFlight.catch(() => undefined);
    }
    await inFlight;
  } finally {
    // Never hand a buffer back while a write may still hold it.
    await inFlight?.catch(() => undefined);
    pool.give(buffers[0]);
    pool.give(buffers[1]);
  }
}

/**
 * Writes an append's first bytes with O_APPEND and checks that they landed at `offset`. Another
 * process appending to the same upload at the same time (a client sending one session's PATCHes
 * to two workers) lands its first bytes after ours, or ours after its: the later one sees the
 * wrong size and is refused. Whatever it wrote is either overwritten by the earlier append's
 * positional writes or lies past their end, where the registry sees a size other than the one this
 * append reported and re-hashes instead of trusting its running digest. Without this, two
 * positional appends could interleave into a file whose size matches what one process hashed.
 */
async function claimOffset(file: string, id: string, offset: number, buffers: Buffer[], modes: FileModes): Promise<void> {
  // 'a' creates the file if an abort removed it meanwhile: never with wider access.
  const handle = await open(file, 'a', modes.file);
  const length = buffers.reduce((n, b) => n + b.length, 0);
  try {
    await writeAllv(handle, buffers, null);
    const size = (await handle.stat()).size;
    if (size !== offset + length) throw new UploadOffsetError(id, offset + length, size);
  } finally {
    await handle.close();
  }
}

/**
 * Opens `file` (a file or a directory) read-only and fsyncs it. False when it is missing and
 * `missingOk` (a placed object GC deleted since: nothing to keep); otherwise that throws.
 */
async function fsyncPath(file: string, options: { missingOk?: boolean } = {}): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (options.missingOk && isMissing(error)) return false;
    throw error;
  }
  try {
    await handle.sync();
    return true;
  } finally {
    // The sync is what the caller waits for; closing a read-only handle cannot fail in a way that matters.
    void handle.close().catch(() => undefined);
  }
}

async function sizeOf(file: string, id: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isMissing(error)) throw new StorageNotFoundError(`uploads/${id}`);
    throw error;
  }
}

async function* walk(root: string, relative: string): AsyncGenerator<string> {
  let directory;
  try {
    directory = await opendir(join(root, relative));
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw error;
  }
  for await (const entry of directory) {
    const key = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* walk(root, key);
    else if (entry.isFile()) yield key;
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}
