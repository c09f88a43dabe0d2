import { Readable } from 'node:stream';
import { StorageNotFoundError } from '../errors.js';
import { UploadLengthError, UploadOffsetError, type StorageDriver } from './driver.js';

/** Everything in memory: for tests and throwaway instances only (blobs are held whole). */
export function memoryDriver(): StorageDriver {
  const objects = new Map<string, { bytes: Buffer; modifiedAt: Date }>();
  const uploads = new Map<string, { chunks: Buffer[]; size: number; modifiedAt: Date }>();

  const upload = (id: string) => {
    const found = uploads.get(id);
    if (!found) throw new StorageNotFoundError(`uploads/${id}`);
    return found;
  };

  return {
    name: 'memory',
    async stat(key) {
      const found = objects.get(key);
      return found ? { size: found.bytes.length, modifiedAt: found.modifiedAt } : null;
    },
    async read(key, range) {
      const found = objects.get(key);
      if (!found) throw new StorageNotFoundError(key);
      const bytes = range ? found.bytes.subarray(range.start, range.end) : found.bytes;
      return Readable.from([bytes]);
    },
    async write(key, body) {
      const bytes = Buffer.isBuffer(body) ? Buffer.from(body) : await collect(body);
      objects.set(key, { bytes, modifiedAt: new Date() });
    },
    async delete(key) {
      objects.delete(key);
    },
    async *list(prefix) {
      for (const key of [...objects.keys()]) if (key.startsWith(prefix)) yield key;
      for (const id of [...uploads.keys()]) {
        const key = `uploads/${id}/data`;
        if (key.startsWith(prefix)) yield key;
      }
    },
    async createUpload(id) {
      uploads.set(id, { chunks: [], size: 0, modifiedAt: new Date() });
    },
    async appendUpload(id, offset, body) {
      const current = upload(id);
      if (current.size !== offset) throw new UploadOffsetError(id, offset, current.size);
      const start = { chunks: current.chunks.length, size: current.size };
      try {
        for await (const chunk of body) {
          const buffer = Buffer.from(chunk as Buffer);
          current.chunks.push(buffer);
          current.size += buffer.length;
          current.modifiedAt = new Date();
        }
      } catch (error) {
        if (error instanceof UploadLengthError) {
          current.chunks.length = start.chunks;
          current.size = start.size;
        }
        throw error;
      }
      return current.size;
    },
    async uploadSize(id) {
      return upload(id).size;
    },
    async readUpload(id) {
      return Readable.from(upload(id).chunks.slice());
    },
    async commitUpload(id, key) {
      const current = upload(id);
      objects.set(key, { bytes: Buffer.concat(current.chunks, current.size), modifiedAt: new Date() });
      uploads.delete(id);
    },
    async abortUpload(id) {
      uploads.delete(id);
    },
    async *staleUploads(before) {
      for (const [id, state] of [...uploads]) if (state.modifiedAt < before) yield id;
    },
    async check() {},
    async close() {
      objects.clear();
      uploads.clear();
    },
  };
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}
