/**
 * GC under load, on the filesystem and on Ceph RGW (bounded: a fixed number of seconds each).
 * Pushers push images that share base layers and move their tags, a deleter deletes tags and
 * manifests, skopeo copies images between repositories (cross-repository mounts), while GC runs
 * in a loop with a short grace period. Afterwards every tagged image pulls with skopeo (digests
 * verified), and after one more GC the store holds exactly the blobs the database references:
 * nothing unreferenced left, nothing referenced missing.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import type { GcReport } from '../../src/gc/report.js';
import { createClientEnv, missingClients } from '../fixtures/clients.js';
import { del, pushImage, request } from '../fixtures/http.js';
import { ociImage, randomBlob } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { s3SkipReason, s3TestEnv, uniquePrefix } from '../fixtures/s3.js';
import { startWharfFor, storageKeys, type WharfServer } from '../fixtures/server.js';

const ADMIN = { username: 'root', password: 'root-password-1' };
const SECONDS = Number(process.env.GC_STRESS_SECONDS ?? 12);

async function gcRun(srv: WharfServer, graceSeconds: number): Promise<GcReport> {
  for (;;) {
    const started = await request('POST', `${srv.url}/api/v1/gc`, { auth: ADMIN, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ graceSeconds }) });
    // Another run holds the lease (the previous one still releasing it): try again.
    if (started.status === 409) {
      await sleep(100);
      continue;
    }
    assert.equal(started.status, 202, started.text());
    let report = started.json<GcReport>();
    while (report.status === 'running') {
      await sleep(100);
      report = (await request('GET', `${srv.url}/api/v1/gc/runs/${report.id}`, { auth: ADMIN })).json<GcReport>();
    }
    assert.equal(report.status, 'finished', report.error ?? '');
    assert.equal(report.failed, 0);
    return report;
  }
}

/** The loop's grace: pushes to Ceph RGW take seconds on a loaded two-core machine, so theirs is longer. */
const storages = [
  { name: 'filesystem', graceSeconds: 1, config: () => ({}) },
  {
    name: 'ceph-rgw',
    // Seen: a push into Ceph RGW taking over 5 s when several suites shared the two cores.
    graceSeconds: 10,
    skip: s3SkipReason(),
    config: () => {
      const s3 = s3TestEnv()!;
      return { storage: { driver: 's3', s3: { endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, bucket: s3.bucket, region: s3.region, forcePathStyle: true, rootDirectory: `wharf-test/${uniquePrefix('stress')}` } } };
    },
  },
];

for (const storage of storages) {
  describe(`GC stress on ${storage.name}`, { skip: storage.skip ?? missingClients('skopeo') }, () => {
    test(`pushes, tag moves, deletes and mounts for ${SECONDS} s while GC loops; then every tag pulls and the store equals the references`, { timeout: 240_000 }, async (t) => {
      const srv = await startWharfFor(t, {
        config: [{ gc: { schedule: 'off', untaggedGraceHours: 0, leaseSeconds: 5 }, log: { accessLog: false } }, storage.config()],
        env: { WHARF_ADMIN_USER: ADMIN.username, WHARF_ADMIN_PASSWORD: ADMIN.password },
      });
      const c = await createClientEnv({ registries: [srv.host] });
      t.after(() => c.cleanup());
      const dir = await makeTempDir('wharf-stress-');
      t.after(() => removeDir(dir));

      const bases = Array.from({ length: 4 }, () => randomBlob(3000));
      /** What each tag should be, as the successful operations left it. */
      const expected = new Map<string, string>();
      const deadline = Date.now() + SECONDS * 1000;
      const counts = { pushes: 0, failedPushes: 0, deletes: 0, copies: 0, gcRuns: 0 };

      const pusher = async (worker: number) => {
        for (let i = 0; Date.now() < deadline; i++) {
          const repository = `stress/p${worker}-${i % 3}`;
          const tag = `t${i % 4}`;
          const image = ociImage({ layers: [bases[i % 4]!, bases[(i + worker) % 4]!, randomBlob(200 + i)] });
          try {
            await pushImage(srv.url, repository, tag, image);
            expected.set(`${repository}:${tag}`, image.manifest.digest);
            counts.pushes++;
          } catch (error) {
            // A push whose fresh uploads GC took (a grace of seconds on a loaded machine) is
            // refused whole, as a client would see; it never leaves a broken image behind.
            assert.match(String(error), /MANIFEST_BLOB_UNKNOWN|400/, String(error));
            counts.failedPushes++;
          }
        }
      };
      /** Pushes to its own repositories and deletes at once: by tag, or the whole manifest. */
      const deleter = async () => {
        for (let i = 0; Date.now() < deadline; i++) {
          const repository = `stress/d${i % 2}`;
          const tag = `x${i % 3}`;
          const image = ociImage({ layers: [bases[i % 4]!, randomBlob(100 + i)] });
          try {
            await pushImage(srv.url, repository, tag, image);
          } catch (error) {
            assert.match(String(error), /MANIFEST_BLOB_UNKNOWN/, String(error));
            counts.failedPushes++;
            continue;
          }
          expected.set(`${repository}:${tag}`, image.manifest.digest);
          const reference = i % 2 === 0 ? tag : image.manifest.digest;
          const res = await del(`${srv.url}/v2/${repository}/manifests/${reference}`);
          assert.equal(res.status, 202, `delete ${repository}:${reference}: ${res.status} ${res.text()}`);
          for (const [key, value] of expected) if (key.startsWith(`${repository}:`) && (key === `${repository}:${tag}` || value === reference)) expected.delete(key);
          counts.deletes++;
        }
      };
      /** Copies pushed images by digest into one repository with skopeo: cross-repository mounts. */
      const copier = async () => {
        for (let i = 0; Date.now() < deadline; i++) {
          const sources = [...expected.entries()].filter(([key]) => key.startsWith('stress/p'));
          const source = sources[(i * 5) % Math.max(1, sources.length)];
          if (!source) {
            await sleep(200);
            continue;
          }
          const from = `${source[0].split(':')[0]}@${source[1]}`;
          const target = `stress/copy:c${i % 3}`;
          const copied = await c.skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${srv.host}/${from}`, `docker://${srv.host}/${target}`], { allowFailure: true });
          // The source may be gone meanwhile (moved tag, then collected): then nothing was copied.
          // skopeo may rewrite the manifest (it records the compression it detects), so the tag's
          // digest is read back: only this worker writes this repository.
          if (copied.code === 0) {
            const head = await request('HEAD', `${srv.url}/v2/stress/copy/manifests/c${i % 3}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
            expected.set(target, String(head.headers['docker-content-digest']));
            counts.copies++;
          }
        }
      };
      const collector = async () => {
        while (Date.now() < deadline) {
          await gcRun(srv, storage.graceSeconds);
          counts.gcRuns++;
        }
      };
      await Promise.all([pusher(0), pusher(1), pusher(2), deleter(), copier(), collector()]);
      t.diagnostic(JSON.stringify(counts));
      // Enough work happened beside GC (how much of it succeeded depends on the machine's load).
      assert.ok(counts.pushes + counts.failedPushes >= 5 && counts.pushes >= 2 && counts.gcRuns >= 2 && counts.deletes >= 1, JSON.stringify(counts));

      // Every tag as expected, pulled and verified by skopeo (one sync per repository).
      const repositories = new Set([...expected.keys()].map((key) => key.split(':')[0]!));
      for (const repository of repositories) {
        const out = path.join(dir, 'pulled', repository.replace('/', '-'));
        await c.skopeo(['sync', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', `${srv.host}/${repository}`, out]);
        const tags = await c.skopeo(['list-tags', '--tls-verify=false', `docker://${srv.host}/${repository}`]);
        const listed = (JSON.parse(tags.stdout) as { Tags: string[] }).Tags.sort();
        assert.deepEqual(listed, [...expected.keys()].filter((k) => k.startsWith(`${repository}:`)).map((k) => k.split(':')[1]!).sort());
      }
      for (const [key, digest] of expected) {
        const [repository, tag] = key.split(':') as [string, string];
        const head = await request('HEAD', `${srv.url}/v2/${repository}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(head.headers['docker-content-digest'], digest, key);
      }

      // One more run with no grace: the store holds exactly what the database references.
      await gcRun(srv, 0);
      const db = new SQLite(path.join(srv.dataDir, 'wharf.db'), { readonly: true });
      t.after(() => db.close());
      const referenced = new Set(
        (db.prepare('select digest from repository_blobs union select digest from manifests union select digest from mirror_cache').all() as Array<{ digest: string }>).map((r) => r.digest),
      );
      const rows = db.prepare('select digest, state from blobs').all() as Array<{ digest: string; state: string }>;
      assert.deepEqual(rows.filter((r) => r.state !== 'live'), [], 'no blob left pending or half deleted');
      const stored = new Set((await storageKeys(srv, 'blobs/')).map((key) => `sha256:${key.split('/').pop()}`));
      const missing = [...referenced].filter((d) => !stored.has(d));
      const unreferenced = [...stored].filter((d) => !referenced.has(d));
      assert.deepEqual(missing, [], 'nothing referenced is missing');
      assert.deepEqual(unreferenced, [], 'nothing unreferenced is left');
      assert.deepEqual(new Set(rows.map((r) => r.digest)), referenced, 'a row for exactly the referenced digests');
    });
  });
}
