import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, type S3ClientConfig, type StorageClass } from '@aws-sdk/client-s3';

export const MiB = 1024 * 1024;
/** S3's smallest part (every part but the last must be at least this big). */
export const MIN_PART_SIZE = 5 * MiB;
/** S3's largest part, and the largest object CopyObject accepts. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;
/** S3 accepts at most this many parts in one multipart upload. */
export const MAX_PARTS = 10_000;

export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** Custom endpoint (Ceph RGW, MinIO, OSS, …); absent means AWS S3 for `region`. */
  endpoint?: string;
  /** Static credentials; when both are absent the SDK's default credential chain is used. */
  accessKey?: string;
  secretKey?: string;
  /** Path-style addressing (`endpoint/bucket/key`), for endpoints without wildcard DNS. */
  forcePathStyle?: boolean;
  /** Prefix of every key the driver writes (no leading or trailing slash needed). */
  rootDirectory?: string;
  /** Storage class of committed objects (`STANDARD`, `STANDARD_IA`, …); upload scratch stays STANDARD. */
  storageClass?: string;
  /** Multipart part size in bytes: default 16 MiB, at least 5 MiB. */
  partSize?: number;
  /** Parts uploaded (or copied) in parallel per write, append or commit. Default 4. */
  multipartConcurrency?: number;
  /** When true, `redirectUrl` hands out presigned GET URLs. */
  redirect?: boolean;
  /**
   * Server-side encryption of every object written: `'AES256'` (SSE-S3), `'aws:kms'` (SSE-KMS), or
   * `true` (the config's boolean: SSE-KMS when `kmsKeyId` is set, else SSE-S3).
   */
  encrypt?: boolean | 'AES256' | 'aws:kms';
  /** KMS key for SSE-KMS; absent means the account's default key. */
  kmsKeyId?: string;
  /** Attempts per request, retries included (throttling, 5xx, network). Default 5. */
  maxAttempts?: number;
  /** Milliseconds to open a connection. Default 5,000. */
  connectionTimeout?: number;
  /** Milliseconds a request may stay idle (no byte either way). Default 60,000. */
  requestTimeout?: number;
  /** Sockets per agent. Default 128. */
  maxSockets?: number;
  /**
   * Upload parts and tails are written with `If-None-Match: *`, so two processes appending to one
   * upload at once cannot overwrite each other's bytes. Default true; the OSS preset turns it off
   * (OSS has its own header for it). Stores that ignore the header lose only that protection.
   */
  conditionalWrites?: boolean;
}

/** The options after defaults and checks, as the driver uses them. */
export interface ResolvedS3Options extends S3DriverOptions {
  forcePathStyle: boolean;
  /** The resolved SSE mode, or undefined for none. */
  serverSideEncryption: 'AES256' | 'aws:kms' | undefined;
  storageClass: StorageClass | undefined;
  /** '' or a prefix ending in '/'. */
  prefix: string;
  partSize: number;
  multipartConcurrency: number;
  redirect: boolean;
  maxAttempts: number;
  connectionTimeout: number;
  requestTimeout: number;
  maxSockets: number;
  conditionalWrites: boolean;
}

const ROOT_PATTERN = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

export function resolveS3Options(options: S3DriverOptions): ResolvedS3Options {
  if (!options.bucket) throw new Error('s3: bucket is required');
  if (!options.region) throw new Error('s3: region is required');
  if ((options.accessKey === undefined) !== (options.secretKey === undefined)) {
    throw new Error('s3: set both accessKey and secretKey, or neither (default credential chain)');
  }
  const root = (options.rootDirectory ?? '').replace(/^\/+|\/+$/g, '');
  if (root !== '' && !ROOT_PATTERN.test(root)) throw new Error(`s3: invalid rootDirectory ${JSON.stringify(options.rootDirectory)}`);
  const partSize = options.partSize ?? 16 * MiB;
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new Error(`s3: partSize must be an integer between ${MIN_PART_SIZE} and ${MAX_PART_SIZE} bytes`);
  }
  const concurrency = options.multipartConcurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('s3: multipartConcurrency must be a positive integer');
  const encrypt = options.encrypt === true ? (options.kmsKeyId ? 'aws:kms' : 'AES256') : options.encrypt || undefined;
  if (options.kmsKeyId && encrypt !== 'aws:kms') throw new Error("s3: kmsKeyId needs encrypt: true or 'aws:kms'");
  return {
    ...options,
    forcePathStyle: options.forcePathStyle ?? false,
    serverSideEncryption: encrypt,
    // The store validates the name; the SDK's type is only the list it knew when it was built.
    storageClass: options.storageClass as StorageClass | undefined,
    prefix: root === '' ? '' : `${root}/`,
    partSize,
    multipartConcurrency: concurrency,
    redirect: options.redirect ?? false,
    maxAttempts: options.maxAttempts ?? 5,
    connectionTimeout: options.connectionTimeout ?? 5_000,
    requestTimeout: options.requestTimeout ?? 60_000,
    maxSockets: options.maxSockets ?? 128,
    conditionalWrites: options.conditionalWrites ?? true,
  };
}

/**
 * An S3 client tuned for a blob store: checksums only where the API requires them (Ceph 16
 * answers 411 to the SDK's default streamed checksums), adaptive retries with backoff for
 * throttling, 5xx and network errors, connection and idle timeouts, keep-alive sockets.
 */
export function createS3Client(options: ResolvedS3Options, overrides: Partial<Pick<ResolvedS3Options, 'maxAttempts' | 'connectionTimeout' | 'requestTimeout'>> = {}): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: overrides.maxAttempts ?? options.maxAttempts,
    retryMode: 'adaptive',
    requestHandler: {
      connectionTimeout: overrides.connectionTimeout ?? options.connectionTimeout,
      requestTimeout: overrides.requestTimeout ?? options.requestTimeout,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    },
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.accessKey !== undefined && options.secretKey !== undefined) {
    config.credentials = { accessKeyId: options.accessKey, secretAccessKey: options.secretKey };
  }
  return new S3Client(config);
}

/** The old docker-registry / Distribution OSS settings, as Wharf's `storage.oss` section holds them. */
export interface OssOptions {
  /** e.g. `cn-hangzhou` or `oss-cn-hangzhou`; passed to the signer as given. */
  region: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Overrides the endpoint derived from the region: a host (https is implied) or a URL. */
  endpoint?: string;
  /** Use the VPC-internal endpoint (`oss-<region>-internal.aliyuncs.com`): free traffic inside the region. */
  internal?: boolean;
  rootDirectory?: string;
  partSize?: number;
  redirect?: boolean;
  encrypt?: boolean | 'AES256' | 'aws:kms';
  kmsKeyId?: string;
}

/**
 * Alibaba Cloud OSS speaks the S3 API: the S3 driver with OSS's endpoint and virtual-hosted
 * addressing (OSS refuses path-style requests).
 */
export function ossDriverOptions(oss: OssOptions): S3DriverOptions {
  // Distribution's OSS driver took `oss-cn-hangzhou`; plain `cn-hangzhou` works too.
  const bare = oss.region.replace(/^oss-/, '');
  const host = oss.endpoint ?? `oss-${bare}${oss.internal ? '-internal' : ''}.aliyuncs.com`;
  const endpoint = host.includes('://') ? host : `https://${host}`;
  const options: S3DriverOptions = {
    bucket: oss.bucket,
    region: oss.region,
    endpoint,
    accessKey: oss.accessKeyId,
    secretKey: oss.accessKeySecret,
    forcePathStyle: false,
    conditionalWrites: false,
  };
  if (oss.rootDirectory !== undefined) options.rootDirectory = oss.rootDirectory;
  if (oss.partSize !== undefined) options.partSize = oss.partSize;
  if (oss.redirect !== undefined) options.redirect = oss.redirect;
  if (oss.encrypt !== undefined) options.encrypt = oss.encrypt;
  if (oss.kmsKeyId !== undefined) options.kmsKeyId = oss.kmsKeyId;
  return options;
}
