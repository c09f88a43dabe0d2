/**
 * Wharf on the s3 driver against the real store (Ceph RGW from scripts/test.sh, WHARF_TEST_S3_*):
 * a 1 GiB blob pushed in 64 MiB chunks and pulled back, a push resumed after Wharf was SIGKILLed
 * mid-PATCH, and blob GETs redirected to presigned URLs. Every test has its own rootDirectory and
 * deletes it afterwards (the gateway keeps objects in RAM).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { s3Driver, type S3DriverOptions } from '../../src/storage/s3-driver.js';
import { get, head, patch, post, put, pushBlob, request, type Response } from '../fixtures/http.js';
import { randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { listKeys, s3TestEnv, uniquePrefix, type S3TestEnv } from '../fixtures/s3.js';
import { startWharf, startWharfFor, type HasAfter, type StartWharfOptions } from '../fixtures/server.js';

const MiB = 1024 * 1024;
const s3 = s3TestEnv();
const MISSING = 'WHARF_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY are not set (scripts/test.sh starts Ceph RGW and sets them)';

if (!s3) {
  if (process.env.CI) test('wharf on s3: uploads', () => assert.fail(`CI must run the S3 tests: ${MISSING}`));
  else test('wharf on s3: uploads', { skip: MISSING }, () => undefined);
} else {
  describeUploads(s3);
}

function describeUploads(env: S3TestEnv): void {
  const s3Section = (rootDirectory: string, extra: Partial<S3DriverOptions> = {}) => ({
    endpoint: env.endpoint, accessKey: env.accessKey, secretKey: env.secretKey, bucket: env.bucket, region: env.region,
    forcePathStyle: true, rootDirectory, ...extra,
  });
  /** A fresh root for one test, emptied when the test ends. */
  const rootFor = (t: HasAfter, label: string): string => {
    const root = `wharf-s3-tests/${uniquePrefix(label).slice(0, -1)}`;
    t.after(() => sweep(root));
    return root;
  };
  const sweep = async (rootDirectory: string) => {
    const driver = s3Driver(s3Section(rootDirectory));
    try {
      for await (const id of driver.staleUploads(new Date(Date.now() + 3_600_000))) await driver.abortUpload(id);
      for await (const key of driver.list('')) await driver.delete(key);
    } finally {
      await driver.close();
    }
  };
  const onS3 = (rootDirectory: string, extra: Partial<S3DriverOptions> = {}, options: StartWharfOptions = {}): StartWharfOptions => ({
    ...options,
    config: { storage: { driver: 's3', s3: s3Section(rootDirectory, extra) } },
  });

  describe('wharf on s3: uploads', () => {
    test('a 1 GiB blob pushed in 64 MiB chunks comes back with its digest', async (t) => {
      const total = 1024 * MiB;
      const chunk = 64 * MiB;
      const root = rootFor(t, 'gib');
      const srv = await startWharfFor(t, onS3(root));
      const data = new PatternData();
      const hash = createHash('sha256');

      const started = Date.now();
      const begin = await post(`${srv.url}/v2/big/blob/blobs/uploads/`);
      assert.equal(begin.status, 202, begin.text());
      let location = new URL(String(begin.headers.location), srv.url);
      for (let offset = 0; offset < total; offset += chunk) {
        const end = Math.min(offset + chunk, total);
        const r = await patch(location, {
          headers: { 'content-type': 'application/octet-stream', 'content-length': end - offset, 'content-range': `${offset}-${end - 1}` },
          body: data.stream(offset, end, hash),
          timeoutMs: 300_000,
        });
        assert.equal(r.status, 202, `PATCH ${offset}: ${r.text()}`);
        assert.equal(r.headers.range, `0-${end - 1}`);
        location = new URL(String(r.headers.location), srv.url);
      }
      const digest = `sha256:${hash.digest('hex')}`;
      location.searchParams.set('digest', digest);
      const done = await put(location, { timeoutMs: 600_000 });
      assert.equal(done.status, 201, done.text());
      assert.equal(done.headers['docker-content-digest'], digest);
      const pushMs = Date.now() - started;

      const stat = await head(`${srv.url}/v2/big/blob/blobs/${digest}`);
      assert.equal(stat.status, 200);
      assert.equal(Number(stat.headers['content-length']), total);
      const pullStarted = Date.now();
      const pulled = await digestOf(await get(`${srv.url}/v2/big/blob/blobs/${digest}`, { stream: true, timeoutMs: 600_000 }));
      const pullMs = Date.now() - pullStarted;
      assert.deepEqual(pulled, { digest, size: total });
      t.diagnostic(`1 GiB: push ${(pushMs / 1000).toFixed(1)} s (${((total / MiB) / (pushMs / 1000)).toFixed(0)} MiB/s), pull ${(pullMs / 1000).toFixed(1)} s (${((total / MiB) / (pullMs / 1000)).toFixed(0)} MiB/s)`);

      // Nothing of the session is left in the bucket: no pieces, no multipart upload.
      assert.deepEqual(await listKeys(env, env.bucket, `${root}/uploads/`), []);
    });

    test('a push interrupted by SIGKILL mid-PATCH resumes after a restart', async (t) => {
      const root = rootFor(t, 'resume');
      const dataDir = await makeTempDir('wharf-s3-resume-');
      t.after(() => removeDir(dataDir));
      const options = onS3(root, { partSize: 16 * MiB }, { dataDir });
      const first = await startWharf(options);
      t.after(() => first.stop('SIGKILL'));

      const total = 48 * MiB;
      const firstChunk = 12 * MiB;
      const data = new PatternData();
      const whole = createHash('sha256');
      for (const piece of data.chunks(0, total)) whole.update(piece);
      const digest = `sha256:${whole.digest('hex')}`;

      const begin = await post(`${first.url}/v2/resume/blob/blobs/uploads/`);
      assert.equal(begin.status, 202);
      const id = String(begin.headers['docker-upload-uuid']);
      const sessionPath = new URL(String(begin.headers.location), first.url).pathname;
      const one = await patch(`${first.url}${sessionPath}`, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${firstChunk - 1}`, 'content-length': firstChunk },
        body: data.stream(0, firstChunk),
      });
      assert.equal(one.status, 202, one.text());

      // The second PATCH sends 20 of its 36 MiB and stalls; once the first 16 MiB part is in the
      // bucket, Wharf is killed with 4 MiB still in its buffer.
      const partKey = `${root}/uploads/${id}/part-${String(firstChunk).padStart(15, '0')}`;
      let release = () => {};
      const stalled = new Promise<void>((resolve) => (release = resolve));
      async function* stallingBody(): AsyncGenerator<Buffer> {
        yield* data.chunks(firstChunk, firstChunk + 20 * MiB);
        await stalled;
      }
      const two = patch(`${first.url}${sessionPath}`, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${firstChunk}-${total - 1}`, 'content-length': total - firstChunk },
        body: Readable.from(stallingBody()),
        timeoutMs: 120_000,
      }).then(
        (r) => r,
        (error: Error) => error,
      );
      await waitFor(async () => (await listKeys(env, env.bucket, partKey)).includes(partKey), 60_000, `${partKey} in the bucket`);
      const killed = await first.stop('SIGKILL');
      release();
      assert.equal(killed.signal, 'SIGKILL');
      const outcome = await two;
      assert.ok(outcome instanceof Error || outcome.status >= 500, 'the interrupted PATCH did not succeed');

      const second = await startWharfFor(t, options);
      const status = await get(`${second.url}${sessionPath}`);
      assert.equal(status.status, 204, status.text());
      const stored = firstChunk + 16 * MiB; // the part that reached the bucket survives; the buffered 4 MiB do not
      assert.equal(status.headers.range, `0-${stored - 1}`);
      assert.equal(status.headers['docker-upload-uuid'], id);

      const rest = await patch(`${second.url}${sessionPath}`, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${stored}-${total - 1}`, 'content-length': total - stored },
        body: data.stream(stored, total),
      });
      assert.equal(rest.status, 202, rest.text());
      const finish = new URL(String(rest.headers.location), second.url);
      finish.searchParams.set('digest', digest);
      const done = await put(finish);
      assert.equal(done.status, 201, done.text());

      const pulled = await digestOf(await get(`${second.url}/v2/resume/blob/blobs/${digest}`, { stream: true }));
      assert.deepEqual(pulled, { digest, size: total });
      assert.deepEqual(await listKeys(env, env.bucket, `${root}/uploads/`), []);
    });

    test('with redirect: true a blob GET answers 307 to a presigned URL that serves the bytes', async (t) => {
      const root = rootFor(t, 'redirect');
      const srv = await startWharfFor(t, onS3(root, { redirect: true }));
      const blob = randomBlob(3 * MiB + 17);
      const digest = sha256(blob);
      assert.equal((await pushBlob(srv.url, 'redirect/blob', digest, blob)).status, 201);

      const r = await get(`${srv.url}/v2/redirect/blob/blobs/${digest}`);
      assert.equal(r.status, 307, r.text());
      assert.equal(r.headers['docker-content-digest'], digest);
      const target = new URL(String(r.headers.location));
      assert.equal(target.origin, new URL(env.endpoint).origin, 'the client is sent to the store');
      assert.match(target.search, /X-Amz-Signature=/);
      assert.match(target.search, /X-Amz-Expires=\d+/);
      const direct = await request('GET', target);
      assert.equal(direct.status, 200);
      assert.equal(sha256(direct.body), digest);

      // HEAD and ranged GETs are still answered by Wharf itself.
      const stat = await head(`${srv.url}/v2/redirect/blob/blobs/${digest}`);
      assert.equal(stat.status, 200);
      assert.equal(Number(stat.headers['content-length']), blob.length);
      const part = await get(`${srv.url}/v2/redirect/blob/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
      assert.equal(part.status, 206);
      assert.deepEqual(part.body, blob.subarray(10, 20));
      // An unknown blob is still the registry's 404, never a redirect.
      const missing = await get(`${srv.url}/v2/redirect/blob/blobs/${sha256('nope')}`);
      assert.equal(missing.status, 404);
    });

    test('without redirect the same GET streams the bytes from Wharf', async (t) => {
      const root = rootFor(t, 'stream');
      const srv = await startWharfFor(t, onS3(root));
      const blob = randomBlob(MiB + 3);
      const digest = sha256(blob);
      assert.equal((await pushBlob(srv.url, 'stream/blob', digest, blob)).status, 201);
      const r = await get(`${srv.url}/v2/stream/blob/blobs/${digest}`);
      assert.equal(r.status, 200);
      assert.equal(sha256(r.body), digest);
    });
  });
}

/**
 * Deterministic bytes by offset, generated on the fly: 1 MiB of random base data, each 1 MiB
 * block stamped with its index, so any range can be regenerated (for a resume) and nothing
 * bigger than one block is ever held.
 */
class PatternData {
  private readonly base = randomBytes(MiB);

  private block(index: number): Buffer {
    const out = Buffer.from(this.base);
    out.writeUInt32BE(index, 0);
    return out;
  }

  *chunks(start: number, end: number, hash?: Hash): Generator<Buffer> {
    for (let at = start; at < end; ) {
      const index = Math.floor(at / MiB);
      const from = at - index * MiB;
      const to = Math.min(MiB, end - index * MiB);
      const piece = this.block(index).subarray(from, to);
      hash?.update(piece);
      yield piece;
      at += piece.length;
    }
  }

  stream(start: number, end: number, hash?: Hash): Readable {
    return Readable.from(this.chunks(start, end, hash), { objectMode: false });
  }
}

async function digestOf(response: Response): Promise<{ digest: string; size: number } | { status: number }> {
  if (response.status !== 200) return { status: response.status };
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of response.response) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
