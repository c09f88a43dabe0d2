/**
 * Blobs in an S3-compatible bucket (AWS S3, Alibaba Cloud OSS, Ceph RGW, MinIO).
 *
 * Key layout, all under `rootDirectory/` (the driver's keys map one to one to bucket keys):
 *
 *   <root>/blobs/sha256/<ab>/<hex>              committed objects, exactly the driver key
 *   <root>/uploads/<id>/state                   JSON {version, createdAt, commit?}: the upload exists
 *   <root>/uploads/<id>/part-<offset:15>        ≥ 5 MiB (usually partSize) of the upload, from <offset>
 *   <root>/uploads/<id>/tail-<offset:15>-<end:15>  the last < 5 MiB of the upload, [offset, end)
 *
 * An upload's bytes are the chain part-0, part-<end of part-0>, … and then the tail whose offset is
 * the chain's end; anything else under the upload is a leftover of a failed append and is deleted
 * by the next append. Everything is in the bucket, so any instance can continue any upload.
 * `commitUpload` assembles the chain server-side into the final key (CopyObject for one piece,
 * else a multipart upload of UploadPartCopy parts, whose id is written into `state` first, so an
 * interrupted commit can be aborted), then deletes `state` and the pieces. See s3-uploads.ts.
 *
 * `write` of a Buffer is one PutObject; of a stream, a multipart upload (lib-storage) that holds
 * at most `multipartConcurrency` parts in memory. Multipart uploads left by a crash are aborted by
 * `staleUploads` once they are older than its cutoff.
 */
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BackendError, StorageNotFoundError } from '../errors.js';
import type { ByteRange, StorageDriver } from './driver.js';
import { createS3Client, resolveS3Options, type ResolvedS3Options, type S3DriverOptions } from './s3-options.js';
import { reusedSignatures } from './presigned-urls.js';
import { S3Store } from './s3-store.js';
import { s3Uploads } from './s3-uploads.js';

export { ossDriverOptions, type OssOptions, type S3DriverOptions } from './s3-options.js';

export function s3Driver(options: S3DriverOptions): StorageDriver {
  const resolved = resolveS3Options(options);
  const client = createS3Client(resolved);
  // check() must answer quickly: one retry, short timeouts.
  const checkClient = createS3Client(resolved, { maxAttempts: 2, connectionTimeout: 3_000, requestTimeout: 5_000 });
  const store = new S3Store(client, resolved);

  const driver: StorageDriver = {
    name: 's3',

    async stat(key) {
      return store.head(key);
    },

    async read(key, range?: ByteRange) {
      if (range && range.end <= range.start) {
        if (!(await store.head(key))) throw new StorageNotFoundError(key);
        return Readable.from([]);
      }
      // GetObject resolves once the status line is in: a missing key is an error here, not later.
      const body = await store.get(key, range);
      if (!body) throw new StorageNotFoundError(key);
      return body;
    },

    async write(key, body) {
      if (Buffer.isBuffer(body)) {
        await store.put(key, body, true);
        return;
      }
      const upload = new Upload({
        client,
        params: { ...store.uploadParams(key), Body: body },
        partSize: resolved.partSize,
        queueSize: resolved.multipartConcurrency,
        leavePartsOnError: false,
      });
      await upload.done();
    },

    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: resolved.bucket, Key: store.full(key) }));
    },

    deleteMany: (keys) => store.deleteMany(keys),

    async *list(prefix) {
      for await (const object of store.list(prefix)) yield object.key;
    },

    ...s3Uploads(store),

    async check() {
      try {
        await checkClient.send(new HeadBucketCommand({ Bucket: resolved.bucket }));
      } catch (error) {
        throw new BackendError('s3', describeCheckFailure(error, resolved), { cause: error });
      }
    },

    async close() {
      client.destroy();
      checkClient.destroy();
    },
  };
  if (resolved.redirect) {
    driver.redirectUrl = reusedSignatures((key, expiresInSeconds) =>
      getSignedUrl(client, new GetObjectCommand({ Bucket: resolved.bucket, Key: store.full(key) }), { expiresIn: expiresInSeconds }),
    );
  }
  return driver;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** Turns a HeadBucket failure into a sentence an operator can act on. */
export function describeCheckFailure(error: unknown, options: Pick<ResolvedS3Options, 'bucket' | 'region' | 'endpoint'>): string {
  const endpoint = options.endpoint ?? `https://s3.${options.region}.amazonaws.com`;
  const details = error as { name?: string; message?: string; code?: string; errors?: { code?: string }[]; $metadata?: { httpStatusCode?: number } };
  const name = details.name ?? '';
  const status = details.$metadata?.httpStatusCode;
  const code = details.code ?? details.errors?.find((inner) => inner.code)?.code;
  if (code && NETWORK_CODES.has(code)) return `cannot reach endpoint ${endpoint}: ${code}`;
  if (name === 'TimeoutError' || name === 'RequestTimeout') return `cannot reach endpoint ${endpoint}: timed out`;
  if (name === 'NotFound' || name === 'NoSuchBucket' || status === 404) return `bucket ${options.bucket} does not exist at ${endpoint}`;
  if (status === 403 || ['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch'].includes(name)) {
    return `access denied: check accessKey/secretKey (bucket ${options.bucket} at ${endpoint})`;
  }
  if (status === 301 || name === 'PermanentRedirect') return `bucket ${options.bucket} is not in region ${options.region}`;
  if (name === 'CredentialsProviderError') return `no credentials: set accessKey/secretKey or configure the AWS default credential chain (${details.message ?? ''})`;
  return `bucket ${options.bucket} at ${endpoint} is not usable: ${name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${details.message ?? String(error)}`;
}
