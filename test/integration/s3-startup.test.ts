/**
 * Wharf on the s3 driver, at start and in the background: bad storage settings stop `wharf serve`
 * before it binds, with a message naming the problem; the upload purge aborts abandoned sessions
 * and orphaned uploads in the bucket. Real store: Ceph RGW from scripts/test.sh (WHARF_TEST_S3_*).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import YAML from 'yaml';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { RegistryError } from '../../src/errors.js';
import { purgeStaleUploads, type PurgeResult } from '../../src/registry/upload-purge.js';
import { s3Driver } from '../../src/storage/s3-driver.js';
import { runWharf } from '../fixtures/cli.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { get, pushBlob } from '../fixtures/http.js';
import { createBucket, listKeys, s3Request, s3TestEnv, uniquePrefix, type S3TestEnv } from '../fixtures/s3.js';
import { freePort, startWharfFor, type HasAfter } from '../fixtures/server.js';

const MiB = 1024 * 1024;
const HOUR = 3_600_000;
const s3 = s3TestEnv();
const MISSING = 'WHARF_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY are not set (scripts/test.sh starts Ceph RGW and sets them)';

if (!s3) {
  if (process.env.CI) test('wharf on s3: start-up and purge', () => assert.fail(`CI must run the S3 tests: ${MISSING}`));
  else test('wharf on s3: start-up and purge', { skip: MISSING }, () => undefined);
} else {
  describeStartup(s3);
}

function describeStartup(env: S3TestEnv): void {
  const s3Section = (rootDirectory: string) => ({
    endpoint: env.endpoint, accessKey: env.accessKey, secretKey: env.secretKey, bucket: env.bucket, region: env.region,
    forcePathStyle: true, rootDirectory,
  });
  const rootFor = (t: HasAfter, label: string): string => {
    const root = `wharf-s3-tests/${uniquePrefix(label).slice(0, -1)}`;
    t.after(async () => {
      const driver = s3Driver(s3Section(root));
      try {
        for await (const id of driver.staleUploads(new Date(Date.now() + HOUR))) await driver.abortUpload(id);
        for await (const key of driver.list('')) await driver.delete(key);
      } finally {
        await driver.close();
      }
    });
    return root;
  };

  /** `wharf serve` with `s3` merged over a working section; resolves when the process exits (or fails after 30 s). */
  async function serveWith(t: HasAfter, s3Overrides: Record<string, unknown>) {
    const dir = await makeTempDir('wharf-s3-badconfig-');
    t.after(() => removeDir(dir));
    const port = await freePort();
    const configPath = path.join(dir, 'config.yml');
    const config = {
      dataDirectory: path.join(dir, 'data'),
      http: { address: '127.0.0.1', port },
      storage: { driver: 's3', s3: { ...s3Section('wharf-s3-tests/badconfig'), ...s3Overrides } },
    };
    await writeFile(configPath, YAML.stringify(config));
    return { ...(await runWharf(['serve', '--config', configPath])), port };
  }

  describe('wharf on s3: bad storage settings stop wharf serve', () => {
    test('a bucket that does not exist', async (t) => {
      const bucket = `wharf-missing-${randomBytes(4).toString('hex')}`;
      const run = await serveWith(t, { bucket });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^wharf: cannot start: s3: bucket ${bucket} does not exist at ${escape(env.endpoint)}$`, 'm'));
      assert.doesNotMatch(run.stdout, /wharf listening/);
    });

    test('a wrong secret key', async (t) => {
      const run = await serveWith(t, { secretKey: 'not-the-secret-key-0123456789' });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /^wharf: cannot start: s3: access denied: check accessKey\/secretKey \(bucket \S+ at \S+\)$/m);
      assert.doesNotMatch(run.stdout, /wharf listening/);
    });

    test('an unknown access key', async (t) => {
      const run = await serveWith(t, { accessKey: 'NOSUCHACCESSKEY' });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /^wharf: cannot start: s3: access denied: check accessKey\/secretKey/m);
    });

    test('an endpoint nobody listens on', async (t) => {
      const deadPort = await freePort();
      const endpoint = `http://127.0.0.1:${deadPort}`;
      const run = await serveWith(t, { endpoint });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^wharf: cannot start: s3: cannot reach endpoint ${escape(endpoint)}: ECONNREFUSED$`, 'm'));
      assert.ok(run.ms < 20_000, `gave up in ${run.ms} ms`);
    });
  });

  describe('wharf on oss', () => {
    test('the old docker-registry OSS keys with _env: values serve blobs (OSS preset on the same S3 API)', async (t) => {
      const root = rootFor(t, 'oss');
      const srv = await startWharfFor(t, {
        config: {
          storage: {
            driver: 'oss',
            oss: {
              region: 'oss-cn-hangzhou', endpoint: env.endpoint, rootDirectory: root,
              oss_bucket: '_env:OSS_BUCKET', oss_accessid: '_env:OSS_ACCESS_KEY_ID', oss_accesskey: '_env:OSS_ACCESS_KEY_SECRET',
            },
          },
        },
        env: { OSS_BUCKET: env.bucket, OSS_ACCESS_KEY_ID: env.accessKey, OSS_ACCESS_KEY_SECRET: env.secretKey },
      });
      const blob = randomBytes(70_000);
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      assert.equal((await pushBlob(srv.url, 'oss/blob', digest, blob)).status, 201);
      assert.deepEqual(await listKeys(env, env.bucket, `${root}/blobs/`), [`${root}/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`]);
      assert.ok((await get(`${srv.url}/v2/oss/blob/blobs/${digest}`)).body.equals(blob));
    });
  });

  describe('wharf on s3: /readyz', () => {
    test('reports the store: ready, then 503 naming the problem once the bucket is gone', async (t) => {
      const bucket = await createBucket(env);
      t.after(async () => void (await s3Request(env, 'DELETE', `/${bucket}`)));
      const srv = await startWharfFor(t, { config: { storage: { driver: 's3', s3: { ...s3Section('readyz'), bucket } } } });
      const ready = await get(`${srv.url}/readyz`);
      assert.equal(ready.status, 200, ready.text());
      assert.equal(ready.json<{ checks: Record<string, { ok: boolean }> }>().checks['storage']?.ok, true);

      assert.equal((await s3Request(env, 'DELETE', `/${bucket}`)).status, 204);
      const failing = await get(`${srv.url}/readyz`);
      assert.equal(failing.status, 503);
      const body = failing.json<{ failing: string[]; checks: Record<string, { ok: boolean; error?: string }> }>();
      assert.deepEqual(body.failing, ['storage']);
      assert.equal(body.checks['storage']?.error, `s3: bucket ${bucket} does not exist at ${env.endpoint}`);
    });
  });

  describe('wharf on s3: upload purge', () => {
    test('aborts sessions untouched for uploadPurgeAfterHours and orphaned uploads, keeps live ones', async (t) => {
      const root = rootFor(t, 'purge');
      const dataDir = await makeTempDir('wharf-s3-purge-');
      t.after(() => removeDir(dataDir));
      const config = loadConfig({
        env: {},
        overrides: { dataDirectory: dataDir, storage: { driver: 's3', s3: s3Section(root), uploadPurgeAfterHours: 1 } },
      });
      const app = await buildApp(config, pino({ level: 'silent' }));
      t.after(() => app.close());
      const { registry, metadata, storage } = app;
      const uploadKeys = (id: string) => listKeys(env, env.bucket, `${root}/uploads/${id}/`);

      // Abandoned: 6 MiB stored two hours ago (as far as the session row knows).
      const abandoned = await registry.startUpload('purge/abandoned');
      await registry.appendUpload('purge/abandoned', abandoned.id, Readable.from([randomBytes(6 * MiB)]));
      await metadata.uploads.setSize(abandoned.id, 6 * MiB, Date.now() - 2 * HOUR);
      // Live: touched just now.
      const live = await registry.startUpload('purge/live');
      const liveBytes = randomBytes(1000);
      await registry.appendUpload('purge/live', live.id, Readable.from([liveBytes]));
      assert.ok((await uploadKeys(abandoned.id)).length >= 2, 'the abandoned upload has state and a part');

      const counts = ({ sessions, orphans, failed }: PurgeResult) => ({ sessions, orphans, failed });
      const first = await app.uploadPurge.runNow();
      assert.deepEqual(counts(first), { sessions: 1, orphans: 0, failed: 0 });
      assert.deepEqual(first.ids, [abandoned.id]);
      assert.equal(await metadata.uploads.get(abandoned.id), undefined);
      assert.deepEqual(await uploadKeys(abandoned.id), []);
      const gone = await app.http.inject({ method: 'GET', url: `/v2/purge/abandoned/blobs/uploads/${abandoned.id}` });
      assert.equal(gone.statusCode, 404);
      assert.equal((gone.json() as { errors: Array<{ code: string }> }).errors[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
      await assert.rejects(registry.uploadStatus('purge/abandoned', abandoned.id), (error: unknown) => error instanceof RegistryError);

      // The live session is untouched and still completes.
      assert.equal((await registry.uploadStatus('purge/live', live.id)).size, liveBytes.length);
      const liveDigest = `sha256:${createHash('sha256').update(liveBytes).digest('hex')}`;
      assert.deepEqual(await registry.finishUpload('purge/live', live.id, liveDigest), { digest: liveDigest, size: liveBytes.length });

      // Orphans: bytes in the store with no session row (a crash between the two writes), and a
      // multipart upload a crashed commit left behind. They are stale two hours from now.
      const orphan = randomUUID();
      await storage.createUpload(orphan);
      await storage.appendUpload(orphan, 0, Readable.from([randomBytes(100)]));
      const raw = new S3Client({
        endpoint: env.endpoint, region: env.region, forcePathStyle: true,
        credentials: { accessKeyId: env.accessKey, secretAccessKey: env.secretKey },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      });
      t.after(() => raw.destroy());
      await raw.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: `${root}/blobs/sha256/ab/crashed-commit` }));
      const multipart = async () =>
        ((await raw.send(new ListMultipartUploadsCommand({ Bucket: env.bucket, Prefix: `${root}/` }))).Uploads ?? []).length;
      assert.equal(await multipart(), 1);

      const notYet = await app.uploadPurge.runNow();
      assert.deepEqual(counts(notYet), { sessions: 0, orphans: 0, failed: 0 }, 'nothing is stale yet');
      assert.ok((await uploadKeys(orphan)).length > 0);

      const later = await purgeStaleUploads({
        metadata, storage, content: app.content, now: () => Date.now() + 2 * HOUR, maxAgeMs: HOUR, log: pino({ level: 'silent' }),
      });
      assert.deepEqual(counts(later), { sessions: 0, orphans: 1, failed: 0 });
      assert.deepEqual(await listKeys(env, env.bucket, `${root}/uploads/`), []);
      assert.equal(await multipart(), 0, 'the abandoned multipart upload is aborted');
      // The committed blob is not an upload and stays.
      assert.equal((await registry.statBlob('purge/live', liveDigest)).size, liveBytes.length);
    });
  });
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
