import { Readable } from 'node:stream';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { StorageNotFoundError } from '../errors.js';
import { UploadLengthError, UploadOffsetError, type StorageDriver } from './driver.js';
import { MIN_PART_SIZE } from './s3-options.js';
import { PutConditionFailed, type ListedObject, type S3Store } from './s3-store.js';

/**
 * Resumable uploads on S3, with every bit of state in the bucket (see the layout in
 * s3-driver.ts). An upload is a chain of plain objects: `part-<offset>` objects of at least
 * 5 MiB, each starting where the previous one ends, then at most one `tail-<offset>-<end>` of
 * less than 5 MiB. Plain objects rather than the parts of an open multipart upload, because S3 cannot
 * read back the parts of an unfinished multipart upload, and `readUpload` must.
 *
 * Why it survives crashes: a part or tail is one PutObject (atomic); an append first deletes
 * whatever is not on the chain (leftovers of a failed append), then writes parts in offset order,
 * and a new tail last. A crash at any point leaves a chain whose bytes are a prefix of what was
 * sent, and `uploadSize` reports exactly that chain. Concurrent appends to the same upload (two
 * processes) are refused rather than mixed, on stores that honour `If-None-Match` (see append).
 */
export type UploadMethods = Pick<
  StorageDriver,
  'createUpload' | 'appendUpload' | 'uploadSize' | 'readUpload' | 'commitUpload' | 'abortUpload' | 'staleUploads'
>;

interface ChainLink {
  key: string;
  offset: number;
  size: number;
}

interface UploadLayout {
  exists: boolean;
  parts: ChainLink[];
  tail: ChainLink | null;
  size: number;
  /** Keys under the upload that are not on the chain: superseded tails, leftovers of failed appends. */
  stale: string[];
  /** Every key under the upload, state included. */
  all: string[];
}

interface UploadState {
  version: 1;
  createdAt: string;
  /** Set while commitUpload assembles the object, so an interrupted commit can be aborted. */
  commit?: { key: string; uploadId: string };
}

const OFFSET_DIGITS = 15;
const pad = (offset: number) => String(offset).padStart(OFFSET_DIGITS, '0');
const uploadPrefix = (id: string) => `uploads/${id}/`;
const stateKey = (id: string) => `uploads/${id}/state`;
const partKey = (id: string, offset: number) => `uploads/${id}/part-${pad(offset)}`;
/**
 * A tail's key names where it ends as well as where it starts, so that an append never rewrites a
 * key: a longer tail at the same offset is a new key, and two appends writing the same bytes range
 * race for one key that only one of them can create (tails of older versions have no end).
 */
const tailKey = (id: string, offset: number, end: number) => `uploads/${id}/tail-${pad(offset)}-${pad(end)}`;
const LINK_PATTERN = /^(part|tail)-(\d+)(?:-(\d+))?$/;
const ONLY_IF_NEW = true;

export function s3Uploads(store: S3Store): UploadMethods {
  const partSize = store.options.partSize;
  const concurrency = store.options.multipartConcurrency;

  async function layout(id: string): Promise<UploadLayout> {
    const objects: ListedObject[] = [];
    for await (const object of store.list(uploadPrefix(id))) objects.push(object);
    const prefixLength = uploadPrefix(id).length;
    let exists = false;
    const parts: ChainLink[] = [];
    const tails: ChainLink[] = [];
    for (const object of objects) {
      const name = object.key.slice(prefixLength);
      if (name === 'state') exists = true;
      const match = LINK_PATTERN.exec(name);
      if (!match) continue;
      const link = { key: object.key, offset: Number(match[2]), size: object.size };
      // A tail whose size is not the range its key names is not one (nor is an ended part).
      const end = match[3] === undefined ? undefined : Number(match[3]);
      if (end !== undefined && (match[1] === 'part' || end - link.offset !== link.size)) continue;
      (match[1] === 'part' ? parts : tails).push(link);
    }
    parts.sort((a, b) => a.offset - b.offset);
    const chain: ChainLink[] = [];
    const stale: string[] = [];
    let end = 0;
    let broken = false;
    for (const part of parts) {
      // After the first gap nothing counts: those parts are leftovers of a failed append.
      if (!broken && part.offset === end && part.size > 0) {
        chain.push(part);
        end += part.size;
      } else {
        if (part.offset > end) broken = true;
        stale.push(part.key);
      }
    }
    const tail = tails.find((candidate) => candidate.offset === end && candidate.size > 0) ?? null;
    for (const candidate of tails) if (candidate !== tail) stale.push(candidate.key);
    return { exists, parts: chain, tail, size: end + (tail?.size ?? 0), stale, all: objects.map((object) => object.key) };
  }

  async function existing(id: string): Promise<UploadLayout> {
    const found = await layout(id);
    if (!found.exists) throw new StorageNotFoundError(uploadPrefix(id));
    return found;
  }

  async function readState(id: string): Promise<UploadState | null> {
    const bytes = await store.getSmall(stateKey(id));
    if (!bytes) return null;
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as Partial<UploadState>;
      return parsed.version === 1 ? (parsed as UploadState) : null;
    } catch {
      return null;
    }
  }

  async function writeState(id: string, state: UploadState): Promise<void> {
    await store.put(stateKey(id), Buffer.from(JSON.stringify(state)), false);
  }

  /** Deletes the state first (the upload is gone from then on), then everything else. */
  async function removeAll(id: string, keys: readonly string[]): Promise<void> {
    await store.deleteMany([stateKey(id)]);
    await store.deleteMany(keys.filter((key) => key !== stateKey(id)));
  }

  /**
   * Appends by creating keys only (`If-None-Match: *`): an append that races another one to the
   * same upload fails on the first key the other created (PutConditionFailed) instead of
   * overwriting it. What either left is then a chain of whole objects, each written by one of them,
   * whose size is not the one the failed append would have reported.
   */
  async function append(id: string, offset: number, body: Readable): Promise<number> {
    const current = await existing(id);
    if (current.size !== offset) throw new UploadOffsetError(id, offset, current.size);
    if (current.stale.length > 0) await store.deleteMany(current.stale);

    const oldTail = current.tail;
    let partOffset = offset - (oldTail?.size ?? 0);
    const pool: Buffer[] = [];
    const take = () => pool.pop() ?? Buffer.allocUnsafe(partSize);
    let buffer = take();
    let filled = 0;
    if (oldTail) {
      const bytes = await store.getSmall(oldTail.key);
      // Gone or changed: another append to this upload got there first.
      if (!bytes || bytes.length !== oldTail.size) throw new PutConditionFailed(oldTail.key);
      bytes.copy(buffer);
      filled = bytes.length;
    }

    // Parts go up in parallel (at most `concurrency`); the first failure stops the append.
    const running = new Set<Promise<void>>();
    const created: string[] = [];
    let failure: { error: unknown } | null = null;
    const launch = async (part: Buffer, length: number, at: number) => {
      while (running.size >= concurrency) await Promise.race(running);
      if (failure) throw failure.error;
      const key = partKey(id, at);
      const upload = store.put(key, part.subarray(0, length), false, ONLY_IF_NEW).then(
        () => {
          created.push(key);
          pool.push(part);
        },
        (error: unknown) => { failure ??= { error }; },
      );
      const tracked = upload.finally(() => running.delete(tracked));
      running.add(tracked);
    };

    let received = 0;
    let stopped: { error: unknown } | null = null;
    try {
      for await (const chunk of body) {
        let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        received += data.length;
        while (data.length > 0) {
          const room = partSize - filled;
          const count = Math.min(room, data.length);
          data.copy(buffer, filled, 0, count);
          filled += count;
          data = data.subarray(count);
          if (filled === partSize) {
            await launch(buffer, filled, partOffset);
            partOffset += filled;
            buffer = take();
            filled = 0;
          }
        }
      }
    } catch (error) {
      stopped = { error };
    }
    await Promise.all(running);
    if (stopped) {
      // A refused chunk keeps nothing: the parts it created go (the old tail was never touched).
      if (stopped.error instanceof UploadLengthError) await store.deleteMany(created);
      throw stopped.error;
    }
    if (failure) throw (failure as { error: unknown }).error;
    if (received === 0) return offset;

    let newTail: string | null = null;
    if (filled >= MIN_PART_SIZE) {
      await store.put(partKey(id, partOffset), buffer.subarray(0, filled), false, ONLY_IF_NEW);
      partOffset += filled;
    } else if (filled > 0) {
      newTail = tailKey(id, partOffset, partOffset + filled);
      await store.put(newTail, buffer.subarray(0, filled), false, ONLY_IF_NEW);
    }
    if (oldTail && oldTail.key !== newTail) await store.deleteMany([oldTail.key]);
    return partOffset + (newTail ? filled : 0);
  }

  return {
    async createUpload(id) {
      await writeState(id, { version: 1, createdAt: new Date().toISOString() });
    },

    async appendUpload(id, offset, body) {
      try {
        return await append(id, offset, body);
      } catch (error) {
        // Another process appended to this upload at the same time and wrote a key first.
        if (error instanceof PutConditionFailed) throw new UploadOffsetError(id, offset, (await layout(id)).size);
        throw error;
      }
    },

    async uploadSize(id) {
      return (await existing(id)).size;
    },

    async readUpload(id) {
      const current = await existing(id);
      const links = [...current.parts, ...(current.tail ? [current.tail] : [])];
      async function* bytes(): AsyncGenerator<Buffer> {
        for (const link of links) {
          const stream = await store.get(link.key);
          if (!stream) throw new StorageNotFoundError(link.key);
          for await (const chunk of stream) yield chunk as Buffer;
        }
      }
      return Readable.from(bytes(), { objectMode: false });
    },

    async commitUpload(id, key) {
      const current = await existing(id);
      const sources = [...current.parts, ...(current.tail ? [current.tail] : [])];
      if (sources.length === 0) {
        await store.put(key, Buffer.alloc(0), true);
      } else {
        const state = (await readState(id)) ?? { version: 1, createdAt: new Date().toISOString() };
        await store.concatenate(key, sources, (uploadId) => writeState(id, { ...state, commit: { key, uploadId } }));
      }
      await removeAll(id, current.all);
    },

    async abortUpload(id) {
      const current = await layout(id);
      if (current.all.length === 0) return;
      const state = current.exists ? await readState(id) : null;
      if (state?.commit) await store.abortMultipart(state.commit.key, state.commit.uploadId);
      await removeAll(id, current.all);
    },

    async *staleUploads(before) {
      const latest = new Map<string, number>();
      for await (const object of store.list('uploads/')) {
        const id = object.key.split('/')[1];
        if (!id) continue;
        latest.set(id, Math.max(latest.get(id) ?? 0, object.modifiedAt.getTime()));
      }
      // Multipart uploads nobody finished (a write or commit cut short by a crash) have no
      // upload id to report: abort the ones started before the cutoff here.
      await abortAbandonedMultipartUploads(store, before);
      for (const [id, changed] of latest) if (changed < before.getTime()) yield id;
    },
  };
}

async function abortAbandonedMultipartUploads(store: S3Store, before: Date): Promise<void> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await store.client.send(new ListMultipartUploadsCommand({
      Bucket: store.bucket,
      Prefix: store.full(''),
      ...(keyMarker ? { KeyMarker: keyMarker } : {}),
      ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
    }));
    for (const upload of page.Uploads ?? []) {
      if (!upload.Key || !upload.UploadId || !upload.Initiated) continue;
      if (upload.Initiated.getTime() < before.getTime()) await store.abortMultipartFull(upload.Key, upload.UploadId);
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
}
