/**
 * The console's read API on PostgreSQL (the browser tests run on SQLite): the same listing,
 * sorting, sizes, platforms, last-pull and usage queries must answer alike on both dialects.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, pushImage } from '../fixtures/http.js';
import { multiPlatformImage, ociArtifact, ociImage, randomBlob } from '../fixtures/images.js';
import { freshDatabase, postgresSkipReason } from '../fixtures/postgres.js';
import { startWharfFor } from '../fixtures/server.js';

interface RepoPage {
  items: Array<{ name: string; tagCount: number; size: number; lastPush: number | null }>;
  total: number;
}

test('console read API on PostgreSQL', { skip: postgresSkipReason(), timeout: 120_000 }, async (t) => {
  const db = await freshDatabase(t);
  const srv = await startWharfFor(t, { config: { database: { driver: 'postgres', postgres: { url: db.url } } } });
  const small = ociImage({ layers: [randomBlob(500)] });
  const large = ociImage({ layers: [randomBlob(5000), randomBlob(3000)], config: { config: { Labels: { a: 'b' } } } });
  const multi = multiPlatformImage(800);
  await pushImage(srv.url, 'alpha/small', 'v1', small);
  await pushImage(srv.url, 'beta_x/large', 'v1', large);
  await pushImage(srv.url, 'beta_x/large', 'v2', large);
  await pushImage(srv.url, 'gamma/multi', 'latest', multi);
  const sbom = ociArtifact(large.descriptor);
  await pushImage(srv.url, 'beta_x/large', sbom.manifest.digest, sbom);

  for (const sort of ['name', 'size', 'tags', 'pushed']) {
    const page = (await get(`${srv.url}/api/v1/repositories?sort=${sort}`)).json() as RepoPage;
    assert.equal(page.total, 3, sort);
  }
  const bySize = (await get(`${srv.url}/api/v1/repositories?sort=size`)).json() as RepoPage;
  assert.equal(bySize.items[0]!.name, 'beta_x/large');
  const byTags = (await get(`${srv.url}/api/v1/repositories?sort=tags&order=desc`)).json() as RepoPage;
  assert.equal(byTags.items[0]!.name, 'beta_x/large');
  assert.equal(byTags.items[0]!.tagCount, 2);
  // `_` is a literal in search, not a LIKE wildcard.
  const literal = (await get(`${srv.url}/api/v1/repositories?q=a_x`)).json() as RepoPage;
  assert.deepEqual(literal.items.map((r) => r.name), ['beta_x/large']);
  const wildcard = (await get(`${srv.url}/api/v1/repositories?q=a_l`)).json() as RepoPage;
  assert.deepEqual(wildcard.items, []);

  const tags = (await get(`${srv.url}/api/v1/repositories/gamma/multi/-/tags`)).json() as { items: Array<{ size: number; platforms: unknown[] }> };
  assert.equal(tags.items[0]!.platforms.length, 2);
  assert.ok(tags.items[0]!.size > 1600);
  const image = (await get(`${srv.url}/api/v1/repositories/beta_x/large/-/manifests/v1`)).json() as {
    layers: unknown[];
    size: number;
    config: { labels: Record<string, string> };
    referrers: Array<{ artifactType: string }>;
    tags: string[];
  };
  assert.equal(image.layers.length, 2);
  assert.equal(image.size, 8000 + large.config.size);
  assert.deepEqual(image.config.labels, { a: 'b' });
  assert.deepEqual(image.referrers.map((r) => r.artifactType), ['application/vnd.example.sbom.v1']);
  assert.deepEqual(image.tags, ['v1', 'v2']);

  await get(`${srv.url}/v2/alpha/small/manifests/v1`, { headers: { accept: small.manifest.mediaType } });
  let pulled: number | null = null;
  for (let i = 0; i < 50 && pulled === null; i++) {
    pulled = ((await get(`${srv.url}/api/v1/repositories/alpha/small/-/manifests/v1`)).json() as { lastPulledAt: number | null }).lastPulledAt;
    if (pulled === null) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(pulled, 'last pull recorded on PostgreSQL');

  const usage = (await get(`${srv.url}/api/v1/usage`)).json() as {
    projects: Array<{ name: string; size: number }>;
    counts: { manifests: number; blobs: number };
    mirror?: unknown;
  };
  assert.deepEqual(usage.projects.map((p) => p.name).sort(), ['alpha', 'beta_x', 'gamma']);
  assert.ok(usage.projects.every((p) => p.size > 0));
  assert.equal(usage.counts.manifests, 6);
  assert.equal(usage.mirror, undefined, 'no mirror configured');
});
