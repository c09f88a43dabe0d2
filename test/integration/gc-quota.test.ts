/**
 * Quotas in-process on SQLite and PostgreSQL: a blob counts once per project; concurrent pushes
 * cannot together slip past the quota (exactly as many as fit succeed); a manifest over the quota
 * is refused with nothing stored; the 80 % warning comes once per crossing; usage stays equal to
 * a recount from the references after deletes and GC.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { RegistryError } from '../../src/errors.js';
import { quotaGuard } from '../../src/gc/quotas.js';
import type { UsageChange } from '../../src/metadata/project-usage.js';
import { ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { dialects, harness, type Harness } from './gc-harness.js';

const denied = (error: unknown) => error instanceof RegistryError && error.code === 'DENIED' && /^quota exceeded: project team is limited to/.test(error.message);

/** Usage recounted from the references themselves: each distinct digest the project's repositories hold, once. */
async function recount(h: Harness, project: string): Promise<number> {
  const rows = await sql<{ n: number | string | null }>`
    select sum(b.size) as n from blobs b where b.digest in (
      select digest from repository_blobs where repository = ${project} or repository like ${project + '/%'}
      union select digest from manifests where repository = ${project} or repository like ${project + '/%'})`.execute(h.db);
  return Number(rows.rows[0]?.n ?? 0);
}

for (const dialect of dialects) {
  describe(`quotas on ${dialect.name}`, { skip: dialect.skip }, () => {
    const setup = async (t: { after(fn: () => unknown): void }) => {
      const warnings: UsageChange[] = [];
      const h = await harness(t, dialect.name, { usage: quotaGuard({ onWarning: (change) => warnings.push(change) }) });
      return { h, warnings };
    };

    test('a blob counts once however many repositories of the project hold it', async (t) => {
      const { h } = await setup(t);
      const bytes = randomBlob(1000);
      await h.uploadBlob('team/a', bytes, sha256(bytes));
      await h.uploadBlob('team/b', bytes, sha256(bytes));
      assert.ok(await h.registry.mountBlob('team/c', sha256(bytes), 'team/a'));
      await h.uploadBlob('other/a', bytes, sha256(bytes));
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, 1000);
      assert.equal((await h.metadata.policies.usage('other')).usedBytes, 1000);
    });

    test('concurrent pushes: exactly as many as fit get in, the others are refused, usage is exact', async (t) => {
      const { h } = await setup(t);
      await h.metadata.policies.setQuota('team', 3 * 1000 + 500);
      const blobs = Array.from({ length: 6 }, () => randomBlob(1000));
      const results = await Promise.allSettled(blobs.map((bytes, i) => h.uploadBlob(`team/r${i}`, bytes, sha256(bytes))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
      for (const r of results) if (r.status === 'rejected') assert.ok(denied(r.reason), String(r.reason));
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, 3000);
      assert.equal(await recount(h, 'team'), 3000);
    });

    test('a manifest past the quota is refused and nothing of it is stored', async (t) => {
      const { h } = await setup(t);
      const image = ociImage({ layers: [randomBlob(2000)] });
      for (const [digest, bytes] of image.blobs) await h.uploadBlob('team/app', bytes, digest);
      const blobsBytes = [...image.blobs.values()].reduce((n, b) => n + b.length, 0);
      await h.metadata.policies.setQuota('team', blobsBytes + image.manifest.size - 1);
      await assert.rejects(h.registry.putManifest('team/app', 'v1', image.manifest.bytes, image.manifest.mediaType), denied);
      assert.equal(await h.metadata.manifests.get('team/app', image.manifest.digest), undefined);
      assert.equal(await h.metadata.tags.resolve('team/app', 'v1'), undefined);
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, blobsBytes);
      await h.metadata.policies.setQuota('team', blobsBytes + image.manifest.size);
      await h.registry.putManifest('team/app', 'v1', image.manifest.bytes, image.manifest.mediaType);
    });

    test('reaching 80 % warns once; falling below and crossing again warns again', async (t) => {
      const { h, warnings } = await setup(t);
      await h.metadata.policies.setQuota('team', 10_000);
      const push = async (size: number) => {
        const bytes = randomBlob(size);
        await h.uploadBlob('team/app', bytes, sha256(bytes));
        return sha256(bytes);
      };
      await push(7000);
      assert.equal(warnings.length, 0);
      const big = await push(1500);
      await push(100);
      assert.deepEqual(warnings.map((w) => [w.project, w.usedBytes, w.quotaBytes]), [['team', 8500, 10_000]]);
      await h.registry.deleteBlob('team/app', big);
      await push(1000);
      assert.equal(warnings.length, 2);
    });

    test('usage is exact after deletes and GC', async (t) => {
      const { h } = await setup(t);
      const shared = randomBlob(3000);
      const images = [ociImage({ layers: [shared, randomBlob(500)] }), ociImage({ layers: [shared, randomBlob(600)] })];
      await h.push('team/a', 'v1', images[0]!);
      await h.push('team/b', 'v1', images[1]!);
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, await recount(h, 'team'));
      await h.registry.deleteManifest('team/b', 'v1');
      await h.registry.deleteManifest('team/b', images[1]!.manifest.digest);
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, await recount(h, 'team'), 'a deleted manifest leaves at once');
      await h.gc.run({ dryRun: false, graceSeconds: 0, trigger: 'cli', actor: 'test' });
      const left = await recount(h, 'team');
      assert.equal((await h.metadata.policies.usage('team')).usedBytes, left);
      const expected = [images[0]!.manifest.size, ...[...images[0]!.blobs.values()].map((b) => b.length)].reduce((a, b) => a + b, 0);
      assert.equal(left, expected);
    });
  });
}
