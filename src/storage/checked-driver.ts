import type { Readable } from 'node:stream';
import { BackendError, StorageNotFoundError } from '../errors.js';
import type { ChunkWriter } from '../lib/buffer-pool.js';
import { UploadOffsetError, type StorageDriver } from './driver.js';

const KEY_PATTERN = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*)(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
const UPLOAD_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

export interface StorageObserver {
  /** Called for every failed driver call that is not a plain "not found". */
  onError(driver: string, operation: string, error: unknown): void;
  /** Called after every driver call that writes, with the bytes it wrote (0 when it only moved or created). */
  onWrite?(driver: string, operation: string, bytes: number): void;
}

/**
 * Wraps a driver with what every driver needs and none should repeat: key and id checks (no
 * `..`, no absolute paths, nothing outside the layout ever reaches a backend) and error
 * normalisation (anything that is not "not found" or an offset mismatch becomes a BackendError).
 * A failure of the caller's side — the body being written, or the `write` a `pipeTo` feeds (a
 * client that hung up, a refused chunk) — is not the store's: it is rethrown as it is and not
 * reported to the observer.
 */
export function checkedDriver(inner: StorageDriver, observer?: StorageObserver): StorageDriver {
  const checkKey = (key: string, allowPrefix = false) => {
    if (allowPrefix && key === '') return;
    const candidate = allowPrefix && key.endsWith('/') ? key.slice(0, -1) : key;
    if (!KEY_PATTERN.test(candidate)) throw new BackendError(inner.name, `invalid storage key ${JSON.stringify(key)}`);
  };
  const checkId = (id: string) => {
    if (!UPLOAD_ID_PATTERN.test(id)) throw new BackendError(inner.name, `invalid upload id ${JSON.stringify(id)}`);
  };
  async function guard<T>(operation: string, run: () => Promise<T>, isCallers?: (error: unknown) => boolean): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw isCallers?.(error) ? error : normalise(operation, error);
    }
  }
  // The body's own error, passed up by the driver. (A body the driver stopped reading is destroyed
  // with an AbortError of its own: that is not the one the driver throws.)
  const bodyFailed = (body: Readable | Buffer) => (error: unknown) => !Buffer.isBuffer(body) && error === body.errored;
  async function* guardIterable<T>(operation: string, items: () => AsyncIterable<T>): AsyncGenerator<T> {
    try {
      yield* items();
    } catch (error) {
      throw normalise(operation, error);
    }
  }
  const normalise = (operation: string, error: unknown): Error => {
    if (error instanceof StorageNotFoundError || error instanceof UploadOffsetError) return error;
    observer?.onError(inner.name, operation, error);
    if (error instanceof BackendError) return error;
    return new BackendError(inner.name, `${operation} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  };

  const wrote = (operation: string, bytes: number) => observer?.onWrite?.(inner.name, operation, bytes);
  const driver: StorageDriver = {
    name: inner.name,
    stat: (key) => (checkKey(key), guard('stat', () => inner.stat(key))),
    read: (key, range) => (checkKey(key), guard('read', () => inner.read(key, range))),
    write: (key, body) =>
      (checkKey(key),
      guard(
        'write',
        async () => {
          await inner.write(key, body);
          // A streamed body's length is known only to the store (a rare path: monolithic uploads).
          wrote('write', Buffer.isBuffer(body) ? body.length : ((await inner.stat(key).catch(() => null))?.size ?? 0));
        },
        bodyFailed(body),
      )),
    delete: (key) => (checkKey(key), guard('delete', () => inner.delete(key))),
    list(prefix) {
      checkKey(prefix, true);
      return guardIterable('list', () => inner.list(prefix));
    },
    createUpload: (id) => (checkId(id), guard('createUpload', async () => (await inner.createUpload(id), wrote('createUpload', 0)))),
    appendUpload: (id, offset, body) =>
      (checkId(id),
      guard(
        'appendUpload',
        async () => {
          const size = await inner.appendUpload(id, offset, body);
          wrote('appendUpload', size - offset);
          return size;
        },
        bodyFailed(body),
      )),
    uploadSize: (id) => (checkId(id), guard('uploadSize', () => inner.uploadSize(id))),
    readUpload: (id) => (checkId(id), guard('readUpload', () => inner.readUpload(id))),
    commitUpload: (id, key) => (checkId(id), checkKey(key), guard('commitUpload', async () => (await inner.commitUpload(id, key), wrote('commitUpload', 0)))),
    abortUpload: (id) => (checkId(id), guard('abortUpload', () => inner.abortUpload(id))),
    staleUploads: (before) => guardIterable('staleUploads', () => inner.staleUploads(before)),
    check: () => guard('check', () => inner.check()),
    close: () => inner.close(),
  };
  if (inner.pipeTo) {
    const pipeTo = inner.pipeTo.bind(inner);
    driver.pipeTo = (key, range, write) => {
      checkKey(key);
      const failures = new Set<unknown>();
      const tracked: ChunkWriter = (chunk) =>
        write(chunk).catch((error: unknown) => {
          failures.add(error);
          throw error;
        });
      return guard('pipeTo', () => pipeTo(key, range, tracked), (error) => failures.has(error));
    };
  }
  if (inner.stage) {
    const stage = inner.stage.bind(inner);
    driver.stage = async (body, options) => {
      const staged = await guard('stage', () => stage(body, options));
      return {
        place: (key) => (checkKey(key), guard('write', async () => (await staged.place(key), wrote('write', body.length)))),
        discard: () => staged.discard(),
      };
    };
  }
  if (inner.syncPlaced) {
    const syncPlaced = inner.syncPlaced.bind(inner);
    driver.syncPlaced = (keys) => {
      for (const key of keys) checkKey(key);
      return guard('syncPlaced', () => syncPlaced(keys));
    };
  }
  if (inner.purgeTemporaries) {
    const purgeTemporaries = inner.purgeTemporaries.bind(inner);
    driver.purgeTemporaries = (before) => guard('purgeTemporaries', () => purgeTemporaries(before));
  }
  if (inner.adopt) {
    const adopt = inner.adopt.bind(inner);
    driver.adopt = (path, key) => (checkKey(key), guard('adopt', () => adopt(path, key)));
  }
  if (inner.deleteMany) {
    const deleteMany = inner.deleteMany.bind(inner);
    driver.deleteMany = (keys) => (keys.forEach((key) => checkKey(key)), guard('deleteMany', () => deleteMany(keys)));
  }
  if (inner.redirectUrl) {
    const redirectUrl = inner.redirectUrl.bind(inner);
    driver.redirectUrl = (key, expires) => (checkKey(key), guard('redirectUrl', () => redirectUrl(key, expires)));
  }
  return driver;
}
