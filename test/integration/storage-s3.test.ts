/**
 * The storage contract on a real S3 store (Ceph RGW in tests: scripts/test.sh starts it and sets
 * WHARF_TEST_S3_*). Without those variables the suite is skipped, except under CI, where it fails.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, it, test } from 'node:test';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BackendError } from '../../src/errors.js';
import { checkedDriver } from '../../src/storage/checked-driver.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { s3Driver, type S3DriverOptions } from '../../src/storage/s3-driver.js';
import { storageContract } from './storage-contract.js';

const env = {
  endpoint: process.env.WHARF_TEST_S3_ENDPOINT,
  accessKey: process.env.WHARF_TEST_S3_ACCESS_KEY,
  secretKey: process.env.WHARF_TEST_S3_SECRET_KEY,
  bucket: process.env.WHARF_TEST_S3_BUCKET,
  region: process.env.WHARF_TEST_S3_REGION ?? 'us-east-1',
};
const MISSING = 'WHARF_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY and _BUCKET are not set (scripts/test.sh starts Ceph RGW and sets them)';

if (!env.endpoint || !env.accessKey || !env.secretKey || !env.bucket) {
  if (process.env.CI) test('s3 storage contract', () => assert.fail(`CI must run the S3 suite: ${MISSING}`));
  else test('s3 storage contract', { skip: MISSING }, () => undefined);
} else {
  const base: S3DriverOptions = {
    endpoint: env.endpoint,
    accessKey: env.accessKey,
    secretKey: env.secretKey,
    bucket: env.bucket,
    region: env.region,
    forcePathStyle: true,
    partSize: 5 * 1024 * 1024,
    multipartConcurrency: 4,
    redirect: true,
  };
  // Every run (and every test in it) gets its own root, so runs never collide.
  const runRoot = `wharf-test/${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  let testNumber = 0;

  const raw = new S3Client({
    endpoint: env.endpoint, region: env.region, forcePathStyle: true,
    credentials: { accessKeyId: env.accessKey, secretAccessKey: env.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  after(() => raw.destroy());

  /** Deletes whatever a failed test left under its root. */
  async function sweep(rootDirectory: string): Promise<void> {
    const driver = s3Driver({ ...base, rootDirectory });
    try {
      for await (const id of driver.staleUploads(new Date(Date.now() + 3_600_000))) await driver.abortUpload(id);
      for await (const key of driver.list('')) await driver.delete(key);
    } finally {
      await driver.close();
    }
  }

  storageContract('s3', async () => {
    const rootDirectory = `${runRoot}/${++testNumber}`;
    const driver = checkedDriver(s3Driver({ ...base, rootDirectory }));
    return {
      driver,
      reopen: async () => checkedDriver(s3Driver({ ...base, rootDirectory })),
      async cleanup() {
        await driver.close();
        await sweep(rootDirectory);
      },
    };
  }, { raceTrials: 8 });

  describe('s3 driver specifics', () => {
    it('leaves no multipart upload behind in the whole run', async () => {
      const listed = await raw.send(new ListMultipartUploadsCommand({ Bucket: env.bucket, Prefix: `${runRoot}/` }));
      assert.deepEqual((listed.Uploads ?? []).map((upload) => upload.Key), []);
    });

    it('staleUploads aborts multipart uploads abandoned by a crash', async () => {
      const rootDirectory = `${runRoot}/abandoned`;
      const key = `${rootDirectory}/blobs/sha256/ab/abandoned`;
      const created = await raw.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: key }));
      const driver = s3Driver({ ...base, rootDirectory });
      try {
        for await (const id of driver.staleUploads(new Date(Date.now() - 3_600_000))) assert.fail(`unexpected stale upload ${id}`);
        const before = await raw.send(new ListMultipartUploadsCommand({ Bucket: env.bucket, Prefix: `${rootDirectory}/` }));
        assert.ok((before.Uploads ?? []).some((upload) => upload.UploadId === created.UploadId), 'a recent multipart upload was aborted');
        for await (const id of driver.staleUploads(new Date(Date.now() + 60_000))) assert.fail(`unexpected stale upload ${id}`);
        const later = await raw.send(new ListMultipartUploadsCommand({ Bucket: env.bucket, Prefix: `${rootDirectory}/` }));
        assert.deepEqual(later.Uploads ?? [], []);
      } finally {
        await driver.close();
      }
    });

    it('a leftover part past the chain (a failed append) is ignored, then removed by the next append', async () => {
      const rootDirectory = `${runRoot}/leftover`;
      const driver = s3Driver({ ...base, rootDirectory });
      const MiB = 1024 * 1024;
      try {
        await driver.createUpload('leftover');
        // As if part 2 of an append finished while part 1 failed: a piece beyond a gap.
        await raw.send(new PutObjectCommand({
          Bucket: env.bucket, Key: `${rootDirectory}/uploads/leftover/part-${String(5 * MiB).padStart(15, '0')}`, Body: Buffer.alloc(5 * MiB, 0xee),
        }));
        assert.equal(await driver.uploadSize('leftover'), 0);
        const bytes = Buffer.alloc(5 * MiB + 10, 0x11);
        assert.equal(await driver.appendUpload('leftover', 0, Readable.from([bytes])), bytes.length);
        assert.equal(await driver.uploadSize('leftover'), bytes.length);
        const read = Buffer.concat((await (await driver.readUpload('leftover')).toArray()) as Buffer[]);
        assert.ok(read.equals(bytes), 'the leftover leaked into the upload');
        await driver.abortUpload('leftover');
        const left: string[] = [];
        for await (const key of driver.list('')) left.push(key);
        assert.deepEqual(left, []);
      } finally {
        await driver.close();
      }
    });

    it('check() passes on a good configuration', async () => {
      const driver = s3Driver({ ...base, rootDirectory: runRoot });
      try {
        await driver.check();
      } finally {
        await driver.close();
      }
    });

    const failsWith = async (options: S3DriverOptions, pattern: RegExp) => {
      const driver: StorageDriver = checkedDriver(s3Driver(options));
      const started = Date.now();
      try {
        await assert.rejects(driver.check(), (error: unknown) => {
          assert.ok(error instanceof BackendError, `expected BackendError, got ${String(error)}`);
          assert.match(error.message, pattern);
          return true;
        });
        assert.ok(Date.now() - started < 15_000, `check() took ${Date.now() - started} ms`);
      } finally {
        await driver.close();
      }
    };

    it('check() names a missing bucket', () =>
      failsWith({ ...base, bucket: `wharf-missing-${randomUUID().slice(0, 8)}` }, /bucket wharf-missing-\w+ does not exist/));

    it('check() names bad credentials', () =>
      failsWith({ ...base, secretKey: 'not-the-secret-key' }, /access denied: check accessKey\/secretKey/));

    it('check() names an unknown access key', () =>
      failsWith({ ...base, accessKey: 'no-such-access-key' }, /access denied: check accessKey\/secretKey/));

    it('check() names an unreachable endpoint', async () => {
      const port = await freePort();
      await failsWith({ ...base, endpoint: `http://127.0.0.1:${port}` }, new RegExp(`cannot reach endpoint http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    });
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
