/**
 * Smoke test of the test harness itself (scripts/test.sh services and test/fixtures), independent
 * of Wharf: real clients against CNCF Distribution, the S3 gateway, PostgreSQL, and startWharf's
 * process handling with a stand-in server.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { distributionSkipReason, startDistribution } from '../fixtures/distribution.js';
import { get, head, pushImage, request } from '../fixtures/http.js';
import { makeTestImages, multiPlatformImage, ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { freshDatabase, postgresSkipReason, postgresUrl } from '../fixtures/postgres.js';
import { listBuckets, listKeys, s3Request, s3SkipReason, s3TestEnv, uniquePrefix } from '../fixtures/s3.js';
import { startWharf } from '../fixtures/server.js';

describe('harness: real clients against CNCF Distribution', () => {
  const skip = distributionSkipReason() ?? missingClients('skopeo', 'podman');

  test('skopeo copy oci: → docker:// and podman pull, with a private client env', { skip }, async (t) => {
    const reg = await startDistribution(t);
    const c = await createClientEnvFor(t, { registries: [reg.host] });
    const layout = await makeTestImages(path.join(c.dir, 'layout'), 4096);

    await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${reg.host}/t/x:v1`]);
    await c.skopeo(['copy', '--all', `oci:${layout}:multi`, `docker://${reg.host}/t/multi:v1`]);
    const tags = JSON.parse((await c.skopeo(['list-tags', `docker://${reg.host}/t/x`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['v1']);
    const raw = JSON.parse((await c.skopeo(['inspect', '--raw', `docker://${reg.host}/t/multi:v1`])).stdout) as { manifests: unknown[] };
    assert.equal(raw.manifests.length, 2);

    const pulled = await c.podman(['pull', '-q', `${reg.host}/t/x:v1`]);
    assert.match(pulled.stdout.trim(), /^[0-9a-f]{64}$/);
    // the image landed in the private vfs storage, not in /var/lib/containers/storage
    assert.ok(existsSync(path.join(c.dir, 'storage', 'vfs-images')), 'private graphroot used');
    const images = await c.podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(images.stdout, new RegExp(`${reg.host}/t/x:v1`));

    if (c.blobInfoCacheIsolated) {
      assert.ok(existsSync(path.join(c.blobInfoCacheDir, 'blob-info-cache-v1.boltdb')), 'blob-info cache written to the private dir');
    } else {
      t.diagnostic('blob-info cache NOT isolated (no unshare/root): clients share /var/lib/containers/cache');
    }

    // a failing command throws a readable error, or returns the code with allowFailure
    const r = await c.skopeo(['inspect', `docker://${reg.host}/t/nope:v1`], { allowFailure: true });
    assert.notEqual(r.code, 0);
    await assert.rejects(c.skopeo(['inspect', `docker://${reg.host}/t/nope:v1`]), /exited with/);
  });

  test('buildah pull and push through the private env', { skip: skip ?? missingClients('buildah') }, async (t) => {
    const reg = await startDistribution(t);
    const c = await createClientEnvFor(t, { registries: [reg.host] });
    const layout = await makeTestImages(path.join(c.dir, 'layout'), 512);
    await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${reg.host}/t/b:v1`]);
    await c.buildah(['pull', '-q', `${reg.host}/t/b:v1`]);
    await c.buildah(['push', `${reg.host}/t/b:v1`, `docker://${reg.host}/t/b2:v1`]);
    const tags = JSON.parse((await c.skopeo(['list-tags', `docker://${reg.host}/t/b2`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['v1']);
  });

  test('in-memory images pushed with the raw HTTP helpers', { skip: distributionSkipReason() }, async (t) => {
    const reg = await startDistribution(t);
    const img = ociImage({ layers: [randomBlob(3000), randomBlob(10)] });
    const put = await pushImage(reg.url, 'api/one', 'v1', img);
    assert.equal(put.headers['docker-content-digest'], img.manifest.digest);
    const m = await get(`${reg.url}/v2/api/one/manifests/v1`, { headers: { accept: img.manifest.mediaType } });
    assert.equal(m.status, 200);
    assert.equal(sha256(m.body), img.manifest.digest);
    assert.equal(m.headers['content-type'], img.manifest.mediaType);
    const layer = img.layers[0]!;
    const b = await head(`${reg.url}/v2/api/one/blobs/${layer.digest}`);
    assert.equal(b.status, 200);
    assert.equal(Number(b.headers['content-length']), layer.size);

    const idx = multiPlatformImage(100);
    await pushImage(reg.url, 'api/multi', 'v1', idx);
    const mi = await get(`${reg.url}/v2/api/multi/manifests/v1`, { headers: { accept: idx.manifest.mediaType } });
    assert.equal(sha256(mi.body), idx.manifest.digest);

    // an odd request fetch would not send: a GET with a body
    const odd = await request('GET', `${reg.url}/v2/`, { body: 'x' });
    assert.equal(odd.status, 200);
  });
});

test('S3 gateway answers ListBuckets and basic object calls', { skip: s3SkipReason() }, async () => {
  const env = s3TestEnv()!;
  assert.ok((await listBuckets(env)).includes(env.bucket));
  const prefix = uniquePrefix('harness');
  const put = await s3Request(env, 'PUT', `/${env.bucket}/${prefix}a b+c`, { body: 'hello' });
  assert.equal(put.status, 200, put.text());
  assert.deepEqual(await listKeys(env, env.bucket, prefix), [`${prefix}a b+c`]);
  const got = await s3Request(env, 'GET', `/${env.bucket}/${prefix}a b+c`);
  assert.equal(got.text(), 'hello');
  assert.equal((await s3Request(env, 'DELETE', `/${env.bucket}/${prefix}a b+c`)).status, 204);
});

test('PostgreSQL accepts connections; freshDatabase gives a private database', { skip: postgresSkipReason() }, async (t) => {
  const c = new pg.Client({ connectionString: postgresUrl() });
  await c.connect();
  assert.equal((await c.query('select 1 as one')).rows[0].one, 1);
  await c.end();
  const db = await freshDatabase(t);
  const c2 = new pg.Client({ connectionString: db.url });
  await c2.connect();
  assert.equal((await c2.query('select current_database() as d')).rows[0].d, db.name);
  await c2.end();
});

test('startWharf: config, port, readiness and stop (with a stand-in server)', async (t) => {
  const dir = await makeTempDir('fake-wharf-');
  t.after(() => removeDir(dir));
  // Stands in for bin/wharf until the real CLI exists: reads --config, serves /v2/ on the port.
  const fake = path.join(dir, 'fake-wharf.mjs');
  await writeFile(
    fake,
    `import http from 'node:http'; import fs from 'node:fs';
     const cfg = fs.readFileSync(process.argv[process.argv.indexOf('--config') + 1], 'utf8');
     const port = Number(/port: (\\d+)/.exec(cfg)[1]);
     http.createServer((q, s) => { s.writeHead(401, {'docker-distribution-api-version': 'registry/2.0'}); s.end(cfg); })
       .listen(port, '127.0.0.1', () => console.log('listening on', port));
     process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });`,
  );
  const srv = await startWharf({ bin: fake, config: [{ storage: { s3: { bucket: 'b' } } }, 'log:\n  level: debug\n'] });
  const r = await get(`${srv.url}/v2/`);
  assert.equal(r.status, 401);
  const written = await readFile(srv.configPath, 'utf8');
  assert.equal(r.text(), written);
  assert.match(written, new RegExp(`dataDirectory: ${srv.dataDir}`));
  assert.match(written, /address: 127\.0\.0\.1/);
  assert.match(written, /bucket: b/);
  assert.match(written, /level: debug/);
  const exit = await srv.stop();
  assert.equal(exit.code, 0);
  assert.match(srv.logs(), /listening on \d+[\s\S]*bye/);
  assert.ok(!existsSync(srv.tmpDir), 'temp dir removed');

  // a server that dies at start is reported with its output
  const bad = path.join(dir, 'bad.mjs');
  await writeFile(bad, `console.error('config error: nope'); process.exit(3);`);
  await assert.rejects(startWharf({ bin: bad }), /exited before it was ready \(code 3[\s\S]*config error: nope/);
});
