import { z } from 'zod';
import { integer, isRecord, pathString } from './common.js';
import { requireSection } from './require-section.js';

export const storageDrivers = ['filesystem', 's3', 'oss', 'memory'] as const;

const MIB = 1024 * 1024;

const filesystemSchema = z
  .object({
    rootDirectory: pathString('blob directory (absent: <dataDirectory>/storage)').optional(),
    directWrites: z
      .boolean()
      .default(true)
      .meta({ description: 'write pushed blobs past the page cache (O_DIRECT) where the filesystem allows it' }),
  })
  .strict();

/** S3 and S3-compatible stores (AWS, Ceph RGW, MinIO, …). */
export const s3Schema = z
  .object({
    bucket: z.string().min(1).meta({ description: 'bucket name', example: 'wharf-blobs' }),
    region: z.string().min(1).default('us-east-1').meta({ description: 'bucket region' }),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .meta({
        description: 'endpoint of an S3-compatible store (absent: AWS)',
        expected: 'an http(s) URL',
        example: 'http://minio.internal:9000',
      }),
    accessKey: z.string().min(1).optional().meta({ description: 'access key id (absent: the AWS default chain)' }),
    secretKey: z.string().min(1).optional().meta({ description: 'secret access key', secret: true }),
    forcePathStyle: z
      .boolean()
      .default(false)
      .meta({ description: 'address the bucket as <endpoint>/<bucket> (Ceph RGW, MinIO)' }),
    rootDirectory: z.string().default('').meta({ description: 'key prefix inside the bucket' }),
    storageClass: z.string().min(1).optional().meta({ description: 'storage class of new objects', example: 'STANDARD' }),
    partSize: integer(5 * MIB)
      .default(16 * MIB)
      .meta({ description: 'multipart upload part size in bytes (at least 5 MiB)' }),
    multipartConcurrency: integer(1, 64).default(4).meta({ description: 'parts uploaded in parallel' }),
    redirect: z.boolean().default(false).meta({ description: 'answer blob GETs with a redirect to a presigned URL' }),
    encrypt: z.boolean().default(false).meta({ description: 'server-side encryption of new objects' }),
    kmsKeyId: z.string().min(1).optional().meta({ description: 'KMS key for server-side encryption' }),
  })
  .strict();

/** Alibaba Cloud OSS (native API). */
export const ossObjectSchema = z
  .object({
    region: z.string().min(1).meta({ description: 'OSS region', example: 'oss-cn-hangzhou' }),
    bucket: z.string().min(1).meta({ description: 'bucket name', example: 'wharf-blobs' }),
    accessKeyId: z.string().min(1).meta({ description: 'AccessKey ID', example: '_env:OSS_ACCESS_KEY_ID' }),
    accessKeySecret: z
      .string()
      .min(1)
      .meta({ description: 'AccessKey secret', secret: true, example: '_env:OSS_ACCESS_KEY_SECRET' }),
    endpoint: z.string().min(1).optional().meta({ description: 'custom endpoint host (absent: derived from region)' }),
    internal: z.boolean().default(false).meta({ description: 'use the internal (VPC) endpoint' }),
    rootDirectory: z.string().default('').meta({ description: 'key prefix inside the bucket' }),
    partSize: integer(5 * MIB)
      .default(16 * MIB)
      .meta({ description: 'multipart upload part size in bytes (at least 5 MiB)' }),
    redirect: z.boolean().default(false).meta({ description: 'answer blob GETs with a redirect to a signed URL' }),
    encrypt: z.boolean().default(false).meta({ description: 'server-side encryption of new objects' }),
  })
  .strict();

/**
 * Keys of the original docker-registry OSS driver, accepted as aliases so that a config written
 * for it (typically `oss_bucket: _env:OSS_BUCKET`) keeps working.
 */
export const ossKeyAliases: Readonly<Record<string, keyof z.input<typeof ossObjectSchema>>> = {
  oss_bucket: 'bucket',
  oss_accessid: 'accessKeyId',
  oss_accesskey: 'accessKeySecret',
};

/** `storage.oss`: the OSS section after mapping the old key aliases to their camelCase names. */
export const ossSchema = z.preprocess((value, ctx) => {
  if (!isRecord(value)) return value;
  const mapped: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    const target = ossKeyAliases[key];
    if (target === undefined) {
      mapped[key] = entry;
    } else if (target in value) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `"${key}" is an alias of "${target}"; set only one of them`,
        params: { verbatim: true },
      });
    } else {
      mapped[target] = entry;
    }
  }
  return mapped;
}, ossObjectSchema);

/** `storage`: where blob bytes live. */
export const storageSchema = z
  .object({
    driver: z.enum(storageDrivers).default('filesystem').meta({ description: 'blob storage driver' }),
    filesystem: filesystemSchema.prefault({}),
    s3: s3Schema.optional(),
    oss: ossSchema.optional(),
    uploadPurgeAfterHours: integer(1)
      .default(24)
      .meta({ description: 'abandoned upload sessions are deleted after this many hours' }),
  })
  .strict()
  .superRefine(
    (value, ctx) => {
      const raw: unknown = value;
      if (!isRecord(raw)) return;
      if (raw['driver'] === 's3') requireSection(ctx, raw, 's3', s3Schema, 'storage.driver is "s3"');
      if (raw['driver'] === 'oss') requireSection(ctx, raw, 'oss', ossObjectSchema, 'storage.driver is "oss"');
    },
    { when: () => true },
  );
