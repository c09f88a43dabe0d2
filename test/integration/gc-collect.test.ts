/**
 * What GC collects, in-process on a real database and store: untagged manifests (after their
 * grace, unless pulled or kept by policy), indexes with their children, referrers with their
 * subject, unreferenced links and blobs, orphan bytes, stale uploads; exactly what a dry run
 * listed, freeing exactly the bytes the store shrinks by; one run at a time.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import type { GcItems, GcReport } from '../../src/gc/report.js';
import { parseDigest } from '../../src/oci/digest.js';
import { blobKey } from '../../src/storage/keys.js';
import { ociArtifact, ociImage, ociIndex, randomBlob, sha256 } from '../fixtures/images.js';
import { dialects, Gate, harness, stores, type Harness } from './gc-harness.js';

const real = { dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' } as const;
const dry = { ...real, dryRun: true } as const;

/** Item lists as comparable sets (order differs between a plan and its execution). */
function normalized(items: GcItems | undefined): Record<string, string[]> {
  assert.ok(items);
  const out: Record<string, string[]> = {};
  for (const [kind, list] of Object.entries(items)) out[kind] = (list as unknown[]).map((x) => JSON.stringify(x)).sort();
  return out;
}

async function storeBytes(h: Harness): Promise<number> {
  let total = 0;
  for await (const key of h.storage.list('')) total += (await h.storage.stat(key))?.size ?? 0;
  return total;
}

const manifestsOf = (report: GcReport) => new Set(report.items?.manifests.map((m) => `${m.repository}@${m.digest}`));

for (const dialect of dialects) {
  describe(`gc on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('a moved tag: the old image goes with the blobs only it used; shared blobs and the tagged image stay', async (t) => {
      const h = await harness(t, dialect.name);
      const shared = randomBlob(3000);
      const one = ociImage({ layers: [shared, randomBlob(1000)] });
      const two = ociImage({ layers: [shared, randomBlob(1100)] });
      await h.push('team/app', 'v1', one);
      await h.push('team/app', 'v1', two);
      const report = await h.gc.run(real);
      assert.deepEqual(manifestsOf(report), new Set([`team/app@${one.manifest.digest}`]));
      const freed = new Set(report.items?.blobs.map((b) => b.digest));
      assert.deepEqual(freed, new Set([one.manifest.digest, one.config.digest, one.layers[1]!.digest]));
      assert.equal(report.bytesFreed, one.manifest.size + one.config.size + one.layers[1]!.size);
      assert.deepEqual((await h.registry.getManifest('team/app', 'v1')).bytes, two.manifest.bytes);
      for (const digest of two.blobs.keys()) assert.ok(await h.storage.stat(blobKey(parseDigest(digest))));
      const again = await h.gc.run(real);
      assert.equal(again.manifests + again.links + again.blobs, 0, 'nothing left to collect');
    });

    test('untagged manifests stay for the untagged grace and while pulled; a project policy may keep them', async (t) => {
      const h = await harness(t, dialect.name, { untaggedGraceHours: 2 });
      const pulled = ociImage();
      const idle = ociImage();
      const kept = ociImage();
      await h.push('team/app', pulled.manifest.digest, pulled);
      await h.push('team/app', idle.manifest.digest, idle);
      await h.push('keep/app', kept.manifest.digest, kept);
      await h.metadata.policies.set('keep', JSON.stringify({ deleteUntagged: false }), Date.now(), 'test');
      assert.equal((await h.gc.run(real)).manifests, 0, 'within the grace');
      await h.age(3 * 3_600_000);
      await h.metadata.audit.write({ events: [], pulls: [], manifests: [{ repository: 'team/app', digest: pulled.manifest.digest, count: 1, time: Date.now() }] });
      const report = await h.gc.run(real);
      assert.deepEqual(manifestsOf(report), new Set([`team/app@${idle.manifest.digest}`]));
    });

    test('an untagged index goes with its children; a tagged index keeps its untagged children', async (t) => {
      const h = await harness(t, dialect.name);
      const gone = ociIndex([ociImage(), ociImage({ platform: { os: 'linux', architecture: 'arm64' } })]);
      const stays = ociIndex([ociImage(), ociImage({ platform: { os: 'linux', architecture: 'arm64' } })]);
      await h.push('team/multi', 'old', gone);
      await h.push('team/multi', 'new', stays);
      await h.registry.deleteManifest('team/multi', 'old');
      const report = await h.gc.run(real);
      assert.deepEqual(manifestsOf(report), new Set([gone.manifest.digest, ...gone.images.map((i) => i.manifest.digest)].map((d) => `team/multi@${d}`)));
      for (const image of stays.images) assert.ok(await h.metadata.manifests.get('team/multi', image.manifest.digest));
    });

    test('a referrer stays while its subject is there and goes with it', async (t) => {
      const h = await harness(t, dialect.name);
      const subject = ociImage();
      await h.push('team/signed', 'v1', subject);
      const sbom = ociArtifact(subject.descriptor);
      await h.push('team/signed', sbom.manifest.digest, sbom);
      assert.equal((await h.gc.run(real)).manifests, 0, 'held by its subject');
      await h.registry.deleteManifest('team/signed', subject.manifest.digest);
      const report = await h.gc.run(real);
      assert.deepEqual(manifestsOf(report), new Set([`team/signed@${sbom.manifest.digest}`]));
      assert.deepEqual(await h.registry.listReferrers('team/signed', subject.manifest.digest), []);
    });

    test('retention never removes a tag an immutability rule protects (the TagProtection hook)', async (t) => {
      const protection = { isProtected: async (repository: string, tag: string) => (repository === 'rel/app' && tag.startsWith('release-') ? 'releases are immutable' : undefined) };
      const h = await harness(t, dialect.name, { protection });
      const [release, scratch] = [ociImage(), ociImage()];
      await h.push('rel/app', 'release-1', release);
      await h.push('rel/app', 'scratch', scratch);
      await h.metadata.policies.set('rel', JSON.stringify({ retention: { dropPatterns: ['*'] } }), Date.now(), 'test');
      const report = await h.gc.run(real);
      assert.deepEqual(report.items?.tags.map((x) => x.tag), ['scratch']);
      assert.deepEqual(manifestsOf(report), new Set([`rel/app@${scratch.manifest.digest}`]));
      assert.equal(await h.metadata.tags.resolve('rel/app', 'release-1'), release.manifest.digest);
    });

    test('one run at a time; a run a dead process left marked running is recorded as interrupted', async (t) => {
      const h = await harness(t, dialect.name);
      await h.db.insertInto('gc_runs').values({ id: 'dead', started_at: 1, finished_at: null, status: 'running', dry_run: 0, trigger: 'api', actor: 'x', project: null, grace_ms: 0, summary: null, items: null, error: null }).execute();
      const orphan = randomBlob(100);
      await h.storage.write(blobKey(parseDigest(sha256(orphan))), orphan);
      h.clock.offsetMs = 5000;
      const gate = new Gate();
      h.setStorageHook(async (operation) => {
        if (operation === 'delete') await gate.pass();
      });
      const first = await h.gc.start(real);
      await gate.reached;
      await assert.rejects(h.gc.start(real), (error: unknown) => error instanceof RegistryError && error.code === 'CONFLICT');
      gate.open();
      const report = await first.done;
      assert.equal(report.orphans, 1);
      const runs = await h.gc.list(10);
      assert.deepEqual(runs.map((r) => [r.id, r.status]), [[first.id, 'finished'], ['dead', 'interrupted']]);
      assert.deepEqual((await h.gc.get(first.id))?.items?.orphans.map((o) => o.digest), [sha256(orphan)]);
    });

    test('a project-scoped run collects that project only', async (t) => {
      const h = await harness(t, dialect.name);
      for (const repository of ['one/app', 'two/app']) {
        await h.push(repository, 'v1', ociImage());
        await h.push(repository, 'v1', ociImage());
      }
      const report = await h.gc.run({ ...real, project: 'one' });
      assert.deepEqual([...manifestsOf(report)].map((m) => m.split('@')[0]), ['one/app']);
      assert.ok(report.blobs > 0);
      assert.ok(report.items?.blobs.length === report.blobs);
      const rest = await h.gc.run(real);
      assert.deepEqual([...manifestsOf(rest)].map((m) => m.split('@')[0]), ['two/app']);
    });

    test('project usage is exact after deletes and GC: each digest counted once per project', async (t) => {
      const h = await harness(t, dialect.name);
      const shared = randomBlob(5000);
      const a = ociImage({ layers: [shared] });
      const b = ociImage({ layers: [shared, randomBlob(700)] });
      await h.push('team/a', 'v1', a);
      await h.push('team/b', 'v1', b);
      const distinct = new Map<string, number>();
      for (const image of [a, b]) {
        distinct.set(image.manifest.digest, image.manifest.size);
        for (const [digest, bytes] of image.blobs) distinct.set(digest, bytes.length);
      }
      const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, sum(distinct));
      await h.registry.deleteManifest('team/b', b.manifest.digest);
      await h.gc.run(real);
      const left = new Map([[a.manifest.digest, a.manifest.size], ...[...a.blobs].map(([d, bytes]) => [d, bytes.length] as [string, number])]);
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, sum(left));
    });
  });
}

for (const store of stores) {
  describe(`gc dry run on ${store.name} storage`, { skip: store.skip }, () => {
    for (const [dialect, dutyCycle] of [...(store.name === 's3' ? dialects.slice(0, 1) : dialects).map((d) => [d, 1] as const), [dialects[0]!, 0.5] as const]) {
      const paced = dutyCycle < 1 ? ` (paced: gc.dutyCycle ${dutyCycle}, small steps)` : '';
      test(`${dialect.name}: the dry run lists exactly what the real run removes, and the store shrinks by the bytes reported${paced}`, { skip: dialect.skip }, async (t) => {
        const h = await harness(t, dialect.name, { store: store.name, dutyCycle });
        const shared = randomBlob(4000);
        await h.push('team/a', 'v1', ociImage({ layers: [shared, randomBlob(900)] }));
        await h.push('team/a', 'v1', ociImage({ layers: [shared, randomBlob(950)] }));
        const index = ociIndex([ociImage(), ociImage({ platform: { os: 'linux', architecture: 'arm64' } })]);
        await h.push('team/b', 'all', index);
        await h.registry.deleteManifest('team/b', 'all');
        const subject = ociImage();
        await h.push('team/c', subject.manifest.digest, subject);
        const referrer = ociArtifact(subject.descriptor);
        await h.push('team/c', 'sbom', referrer);
        await h.registry.deleteManifest('team/c', 'sbom');
        const loose = randomBlob(1234);
        await h.uploadBlob('team/d', loose, sha256(loose));
        const orphan = randomBlob(2222);
        await h.storage.write(blobKey(parseDigest(sha256(orphan))), orphan);
        if (store.name === 'filesystem') {
          const upload = await h.registry.startUpload('team/e');
          await h.registry.appendUpload('team/e', upload.id, Readable.from([randomBlob(3333)]));
        }
        // Past the upload purge age (and the orphan's write), as GC sees it.
        h.clock.offsetMs = 25 * 3_600_000;

        const planned = await h.gc.run(dry);
        assert.ok(planned.manifests >= 5 && planned.blobs >= 10 && planned.orphans === 1, JSON.stringify({ ...planned, items: undefined }));
        if (store.name === 'filesystem') assert.equal(planned.uploads, 1);
        const before = await storeBytes(h);
        const done = await h.gc.run(real);
        const after = await storeBytes(h);
        assert.deepEqual(normalized(done.items), normalized(planned.items));
        assert.equal(done.bytesFreed, planned.bytesFreed);
        assert.equal(before - after, done.bytesFreed, 'bytes freed = how much the store shrank');
        assert.equal(done.failed, 0);
        const again = await h.gc.run(dry);
        assert.equal(again.manifests + again.links + again.blobs + again.orphans + again.uploads, 0);
        // S3 deletes in bulk requests: as many keys as the pacer's step allows, no more.
        const requests = h.events.filter((e) => e.startsWith('storage:deleteMany:')).map((e) => Number(e.split(':')[2]));
        if (store.name === 's3') {
          assert.ok(requests.length > 0, 'bulk deletes were used');
          assert.ok(Math.max(...requests) <= (dutyCycle < 1 ? 5 : 50), `keys per request: ${requests.join(',')}`);
          if (dutyCycle < 1) assert.ok(requests.length >= Math.ceil(done.blobs / 5), `${requests.length} requests for ${done.blobs} blobs`);
        }
      });
    }
  });
}
