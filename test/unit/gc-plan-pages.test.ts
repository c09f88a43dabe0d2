/**
 * GC planning reads in pages of the pacer's size (src/gc/plan.ts): a paced run reads small pages
 * (no single query or result holds the database or the event loop for long) and plans exactly
 * what a full-speed run plans.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gcPacer, type GcPacer } from '../../src/gc/pacer.js';
import { planGc, type GcPlan } from '../../src/gc/plan.js';
import { defaultPolicy } from '../../src/gc/policy.js';
import { noTagProtection } from '../../src/gc/tag-protection.js';
import type { BlobFact, GcScanStore, LinkFact, ManifestFact, ReferenceFact, TagFact } from '../../src/metadata/gc-scan.js';

const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const REPO = 'team/app';
const OLD = 1_000;
const NOW = 10_000_000;

/** 450 manifests, each referencing a layer of its own; every other one tagged. */
function graph() {
  const manifests: ManifestFact[] = [];
  const tags: TagFact[] = [];
  const references: ReferenceFact[] = [];
  const links: LinkFact[] = [];
  const blobs: BlobFact[] = [];
  for (let i = 0; i < 450; i++) {
    const digest = digestOf(`manifest ${i}`);
    const layer = digestOf(`layer ${i}`);
    manifests.push({ digest, size: 500, subject: null, touchedAt: OLD, lastPulledAt: null });
    if (i % 2 === 0) tags.push({ name: `t${String(i).padStart(3, '0')}`, digest, updatedAt: OLD });
    references.push({ parent: digest, child: layer, kind: 'blob' });
    links.push({ digest: layer, touchedAt: OLD });
    blobs.push({ digest: layer, size: 1000, state: 'live', touchedAt: OLD }, { digest, size: 500, state: 'live', touchedAt: OLD });
  }
  const byDigest = <T extends { digest: string }>(list: T[]) => list.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  return { manifests: byDigest(manifests), tags, references: references.sort((a, b) => (a.parent + a.child < b.parent + b.child ? -1 : 1)), links: byDigest(links), blobs: byDigest(blobs) };
}

/** A scan over the graph with keyset paging, recording the largest page and holder lookup asked for. */
function fakeScan(data: ReturnType<typeof graph>) {
  const asked = { page: 0, holders: 0 };
  const page = <T>(rows: T[], after: ((row: T) => boolean) | undefined, limit: number) => {
    asked.page = Math.max(asked.page, limit);
    return rows.filter((row) => after === undefined || after(row)).slice(0, limit);
  };
  const scan: GcScanStore = {
    tags: async (_r, after, limit) => page(data.tags, after === undefined ? undefined : (t) => t.name > after, limit),
    manifests: async (_r, after, limit) => page(data.manifests, after === undefined ? undefined : (m) => m.digest > after, limit),
    references: async (_r, after, limit) => page(data.references, after === undefined ? undefined : (x) => x.parent + x.child > after.parent + after.child, limit),
    links: async (_r, after, limit) => page(data.links, after === undefined ? undefined : (l) => l.digest > after, limit),
    cached: async () => [],
    blobs: async (after, limit) => page(data.blobs, after === undefined ? undefined : (b) => b.digest > after, limit),
    blobsIn: async (digests) => data.blobs.filter((b) => digests.includes(b.digest)),
    holders: async (digests) => {
      asked.holders = Math.max(asked.holders, digests.length);
      const wanted = new Set(digests);
      return {
        links: data.links.filter((l) => wanted.has(l.digest)).map((l) => ({ repository: REPO, digest: l.digest })),
        manifests: data.manifests.filter((m) => wanted.has(m.digest)).map((m) => ({ repository: REPO, digest: m.digest })),
        cached: [],
      };
    },
    known: async (digests) => new Set(digests),
  };
  return { scan, asked };
}

async function plan(pacer: GcPacer): Promise<{ plan: GcPlan; asked: { page: number; holders: number } }> {
  const { scan, asked } = fakeScan(graph());
  const result = await planGc(
    {
      scan,
      repositoryNames: async (after) => (after === undefined ? [REPO] : []),
      storage: { list: async function* () {}, stat: async () => null, uploadSize: async () => 0 },
      policyOf: () => defaultPolicy,
      protection: noTagProtection,
      staleUploads: async function* () {},
      pacer,
    },
    { now: NOW, before: NOW, untaggedBefore: NOW },
  );
  return { plan: result, asked };
}

test('a paced plan reads pages of at most 200 rows and plans what a full-speed run plans', async () => {
  const fast = await plan(gcPacer(1));
  // A duty cycle of 1 (no rests) cannot be paced; a tiny step time keeps the paced rests short.
  let clock = 0;
  const paced = await plan(gcPacer(0.99, () => (clock += 0.01)));

  assert.equal(fast.asked.page, 1000);
  assert.equal(fast.asked.holders, 500);
  assert.equal(paced.asked.page, 200);
  assert.equal(paced.asked.holders, 100);

  const [repository] = paced.plan.repositories;
  assert.equal(repository?.manifests.length, 225, 'the untagged half of the manifests');
  assert.equal(repository?.links.length, 225, 'the layers only they referenced');
  assert.equal(paced.plan.blobs.length, 450, 'their layers and their own bytes');
  const digests = (p: GcPlan) => ({
    manifests: p.repositories.flatMap((r) => r.manifests.map((m) => m.digest)).sort(),
    links: p.repositories.flatMap((r) => r.links).sort(),
    blobs: p.blobs.map((b) => b.digest).sort(),
  });
  assert.deepEqual(digests(paced.plan), digests(fast.plan));
});
