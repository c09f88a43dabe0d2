import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { MAX_PART_SIZE, MAX_PARTS, type ResolvedS3Options } from './s3-options.js';

/**
 * Keys per DeleteObjects request (S3 takes up to 1000). The store deletes a request's keys in
 * one burst that shares its hosts with the pulls: measured during a GC pass on Ceph RGW (2 cores,
 * wrk pulling at 16 connections), the pulls' p99 was 60-63 ms with 250 keys a request, 41 ms with
 * 50 or 20, and the pass took no longer (docs/benchmarks.md).
 */
const DELETE_OBJECTS_KEYS = 50;

/** One listed object, its key relative to the driver's root. */
export interface ListedObject {
  key: string;
  size: number;
  modifiedAt: Date;
}

/** A write that had to create its key found it taken by someone else. */
export class PutConditionFailed extends Error {
  constructor(readonly key: string) {
    super(`${key} was written by someone else meanwhile`);
    this.name = 'PutConditionFailed';
  }
}

/** Where a server-side copy reads from: a whole object (`size` bytes) under the root. */
export interface CopySourceObject {
  key: string;
  size: number;
}

/**
 * The S3 calls the driver makes, with the root prefix, encryption and storage class applied in
 * one place. Keys in and out are relative to the root.
 */
export class S3Store {
  readonly bucket: string;
  private readonly prefix: string;

  constructor(readonly client: S3Client, readonly options: ResolvedS3Options) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
  }

  /** The bucket key of a driver key. */
  full(key: string): string {
    return this.prefix + key;
  }

  /** The driver key of a bucket key, or null when it lies outside the root. */
  relative(fullKey: string): string | null {
    return fullKey.startsWith(this.prefix) ? fullKey.slice(this.prefix.length) : null;
  }

  /** SSE settings for every write; the storage class only for final objects, not upload scratch. */
  private writeParams(final: boolean): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string; StorageClass?: StorageClass } {
    const params: { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string; StorageClass?: StorageClass } = {};
    if (this.options.serverSideEncryption) params.ServerSideEncryption = this.options.serverSideEncryption;
    if (this.options.kmsKeyId) params.SSEKMSKeyId = this.options.kmsKeyId;
    if (final && this.options.storageClass) params.StorageClass = this.options.storageClass;
    return params;
  }

  /** Parameters for lib-storage's Upload of a final object. */
  uploadParams(key: string): { Bucket: string; Key: string; ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string; StorageClass?: StorageClass } {
    return { Bucket: this.bucket, Key: this.full(key), ...this.writeParams(true) };
  }

  /**
   * Writes one object. `onlyIfNew` (with `conditionalWrites` on) sends `If-None-Match: *`: the
   * write fails with PutConditionFailed when the key exists.
   */
  async put(key: string, body: Buffer, final: boolean, onlyIfNew = false): Promise<void> {
    const conditional = onlyIfNew && this.options.conditionalWrites ? { IfNoneMatch: '*' } : {};
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket, Key: this.full(key), Body: body, ContentLength: body.length, ...conditional, ...this.writeParams(final),
      }));
    } catch (error) {
      if (onlyIfNew && isConditionFailure(error)) throw new PutConditionFailed(key);
      throw error;
    }
  }

  /** Size and modification time, or null for a missing key. */
  async head(key: string): Promise<{ size: number; modifiedAt?: Date } | null> {
    try {
      const result = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return { size: result.ContentLength ?? 0, ...(result.LastModified ? { modifiedAt: result.LastModified } : {}) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** The object's bytes (or a range, `end` exclusive, non-empty); null for a missing key. */
  async get(key: string, range?: { start: number; end: number }): Promise<Readable | null> {
    try {
      const result = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: this.full(key), ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
      }));
      const body = result.Body;
      if (!(body instanceof Readable)) throw new Error('GetObject returned no stream body');
      return body;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** A small object whole, or null when missing. Never for blobs. */
  async getSmall(key: string): Promise<Buffer | null> {
    const body = await this.get(key);
    if (!body) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Every object under `prefix` (relative), page by page (1,000 keys a page). */
  async *list(prefix: string): AsyncGenerator<ListedObject> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: this.full(prefix), ...(token ? { ContinuationToken: token } : {}),
      }));
      for (const entry of page.Contents ?? []) {
        const key = entry.Key === undefined ? null : this.relative(entry.Key);
        if (key !== null) yield { key, size: entry.Size ?? 0, modifiedAt: entry.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Deletes keys in batches of 1,000; missing keys are fine. */
  async deleteMany(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETE_OBJECTS_KEYS) {
      const batch = keys.slice(start, start + DELETE_OBJECTS_KEYS);
      const result = await this.client.send(new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: batch.map((key) => ({ Key: this.full(key) })), Quiet: true },
      }));
      const failed = (result.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const first = failed[0];
        throw new Error(`delete failed for ${failed.length} keys, first ${first?.Key}: ${first?.Code} ${first?.Message}`);
      }
    }
  }

  /**
   * Concatenates `sources` server-side into the object at `key`: one CopyObject for a single
   * source up to 5 GiB, else a multipart upload of UploadPartCopy parts (each source but the last
   * must be at least 5 MiB; sources above 5 GiB are copied in ranges). `onStarted` receives the
   * multipart upload id before any part is copied, so a crash leaves it findable.
   */
  async concatenate(key: string, sources: readonly CopySourceObject[], onStarted: (uploadId: string) => Promise<void>): Promise<void> {
    const only = sources[0];
    if (sources.length === 1 && only && only.size <= MAX_PART_SIZE) {
      await this.client.send(new CopyObjectCommand({
        Bucket: this.bucket, Key: this.full(key), CopySource: this.copySource(only.key), ...this.writeParams(true),
      }));
      return;
    }
    const pieces: { source: string; range?: string }[] = [];
    for (const source of sources) {
      if (source.size <= MAX_PART_SIZE) {
        pieces.push({ source: source.key });
        continue;
      }
      for (let offset = 0; offset < source.size; offset += MAX_PART_SIZE) {
        const end = Math.min(source.size, offset + MAX_PART_SIZE) - 1;
        pieces.push({ source: source.key, range: `bytes=${offset}-${end}` });
      }
    }
    if (pieces.length > MAX_PARTS) throw new Error(`cannot assemble ${pieces.length} parts (S3 allows ${MAX_PARTS}): use a larger partSize`);
    const created = await this.client.send(new CreateMultipartUploadCommand({
      Bucket: this.bucket, Key: this.full(key), ...this.writeParams(true),
    }));
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error('CreateMultipartUpload returned no UploadId');
    try {
      await onStarted(uploadId);
      const parts: CompletedPart[] = new Array<CompletedPart>(pieces.length);
      await runLimited(pieces.length, this.options.multipartConcurrency, async (index) => {
        const piece = pieces[index];
        if (!piece) return;
        const result = await this.client.send(new UploadPartCopyCommand({
          Bucket: this.bucket, Key: this.full(key), UploadId: uploadId, PartNumber: index + 1,
          CopySource: this.copySource(piece.source), ...(piece.range ? { CopySourceRange: piece.range } : {}),
        }));
        const etag = result.CopyPartResult?.ETag;
        if (!etag) throw new Error(`UploadPartCopy of part ${index + 1} returned no ETag`);
        parts[index] = { PartNumber: index + 1, ETag: etag };
      });
      await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: this.full(key), UploadId: uploadId, MultipartUpload: { Parts: parts },
      }));
    } catch (error) {
      await this.abortMultipart(key, uploadId).catch(() => undefined);
      throw error;
    }
  }

  /** Aborts a multipart upload of `key` (relative); an upload already gone is fine. */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.abortMultipartFull(this.full(key), uploadId);
  }

  async abortMultipartFull(fullKey: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private copySource(key: string): string {
    return `${this.bucket}/${this.full(key).split('/').map(encodeURIComponent).join('/')}`;
  }
}

/** Runs `task(0..count-1)` with at most `limit` running at once; the first failure wins. */
export async function runLimited(count: number, limit: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/** 412, or AWS's 409 for two conditional writes of one key at once. */
function isConditionFailure(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return $metadata?.httpStatusCode === 412 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict';
}

/** The SDK's ways of saying "no such key / upload / bucket". */
export function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || $metadata?.httpStatusCode === 404;
}
