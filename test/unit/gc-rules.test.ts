/**
 * GC's pure rules: retention (each rule, how they combine, protection), tag patterns, policy
 * validation, and the per-repository mark (indexes, referrers, the cache, the untagged grace).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import { markRepository, type RepositoryGraph } from '../../src/gc/mark.js';
import { parsePolicy, tagMatcher } from '../../src/gc/policy.js';
import { tagsToRemove } from '../../src/gc/retention.js';
import type { ManifestFact, TagFact } from '../../src/metadata/gc-scan.js';

const DAY = 86_400_000;
const NOW = 1_000 * DAY;
const tag = (name: string, daysAgo: number, digest = `sha256:${name}`): TagFact => ({ name, digest, updatedAt: NOW - daysAgo * DAY });
const none = { now: NOW, lastPulled: () => null, isProtected: () => false };
const removed = (list: Array<{ name: string; reason: string }>) => list.map((t) => `${t.name}:${t.reason}`).sort();

describe('retention', () => {
  test('keep the newest N by push time; ties by name', () => {
    const tags = [tag('a', 5), tag('b', 4), tag('c', 3), tag('d', 3), tag('e', 1)];
    assert.deepEqual(removed(tagsToRemove(tags, { keepLatest: 2 }, none)), ['a:beyond-latest', 'b:beyond-latest', 'd:beyond-latest']);
    assert.deepEqual(tagsToRemove(tags, { keepLatest: 10 }, none), []);
  });

  test('keep patterns win over every drop rule, and are not counted in the newest N', () => {
    const tags = [tag('v1.0', 400), tag('v2-rc', 1), tag('pr-7', 1), tag('main', 2), tag('dev', 3)];
    const rules = { keepPatterns: ['v*'], dropPatterns: ['*-rc', 'pr-*'], keepLatest: 1, maxAgeDays: 30 };
    assert.deepEqual(removed(tagsToRemove(tags, rules, none)), ['dev:beyond-latest', 'pr-7:drop-pattern']);
  });

  test('too old, and not pulled for D days (never pulled counts from the push)', () => {
    const tags = [tag('old', 40), tag('fresh', 1), tag('hot', 20, 'sha256:hot'), tag('cold', 20, 'sha256:cold'), tag('never', 20, 'sha256:never')];
    const pulls = new Map([['sha256:hot', NOW - DAY], ['sha256:cold', NOW - 10 * DAY]]);
    const options = { ...none, lastPulled: (d: string) => pulls.get(d) ?? null };
    assert.deepEqual(removed(tagsToRemove(tags, { maxAgeDays: 30 }, options)), ['old:too-old']);
    assert.deepEqual(removed(tagsToRemove(tags, { unpulledDays: 7 }, options)), ['cold:unpulled', 'never:unpulled', 'old:unpulled']);
  });

  test('a tag an immutability rule protects is never removed', () => {
    const tags = [tag('release-1', 100), tag('pr-1', 1)];
    const kept = tagsToRemove(tags, { dropPatterns: ['*'], maxAgeDays: 1 }, { ...none, isProtected: (name) => name.startsWith('release-') });
    assert.deepEqual(removed(kept), ['pr-1:drop-pattern']);
  });

  test('patterns: * and ? only; everything else literal', () => {
    const match = tagMatcher(['v1.*', 'pr-??', 'a+b']);
    assert.deepEqual(['v1.2', 'v1x2', 'pr-12', 'pr-123', 'a+b', 'aab'].filter(match), ['v1.2', 'pr-12', 'a+b']);
    assert.equal(tagMatcher(undefined)('x'), false);
  });
});

describe('policy validation', () => {
  test('accepts a full policy and fills the defaults', () => {
    assert.deepEqual(parsePolicy({}), { deleteUntagged: true });
    const full = { retention: { keepLatest: 3, keepPatterns: ['v*'], dropPatterns: ['pr-*'], maxAgeDays: 30, unpulledDays: 7 }, deleteUntagged: false, untaggedGraceHours: 2 };
    assert.deepEqual(parsePolicy(full), full);
  });

  test('refuses unknown keys, bad numbers and bad patterns with INVALID_REQUEST', () => {
    for (const bad of [[], 'x', { nope: 1 }, { retention: { keepLatest: 1.5 } }, { retention: { dropPatterns: ['a/b'] } }, { retention: { maxAgeDays: 0 } }, { deleteUntagged: 'no' }, { retention: { extra: true } }]) {
      assert.throws(() => parsePolicy(bad), (error: unknown) => error instanceof RegistryError && error.code === 'INVALID_REQUEST', JSON.stringify(bad));
    }
  });
});

describe('mark', () => {
  const m = (digest: string, touchedDaysAgo = 10, extra: Partial<ManifestFact> = {}): ManifestFact => ({ digest, size: 1, subject: null, touchedAt: NOW - touchedDaysAgo * DAY, lastPulledAt: null, ...extra });
  const options = { untaggedNow: new Set<string>(), now: NOW, deleteUntagged: true, untaggedBefore: NOW - DAY, linksBefore: NOW };
  const graph = (parts: Partial<RepositoryGraph>): RepositoryGraph => ({ tags: [], manifests: [], references: [], links: [], cached: new Set(), ...parts });

  test('an index keeps its children; an untagged index goes with them and their links', () => {
    const g = graph({
      tags: [tag('v1', 1, 'i1')],
      manifests: [m('i1'), m('c1'), m('i2'), m('c2')],
      references: [
        { parent: 'i1', child: 'c1', kind: 'manifest' },
        { parent: 'i2', child: 'c2', kind: 'manifest' },
        { parent: 'c1', child: 'L1', kind: 'blob' },
        { parent: 'c2', child: 'L2', kind: 'blob' },
      ],
      links: [{ digest: 'L1', touchedAt: 0 }, { digest: 'L2', touchedAt: 0 }],
    });
    const out = markRepository(g, options);
    assert.deepEqual(out.manifests.map((x) => x.digest).sort(), ['c2', 'i2']);
    assert.deepEqual(out.links, ['L2']);
  });

  test('referrers stay with a kept subject; the cache, the grace and pulls keep untagged manifests', () => {
    const g = graph({
      tags: [tag('v1', 1, 's')],
      manifests: [m('s'), m('sig', 10, { subject: 's' }), m('orphan-sig', 10, { subject: 'gone' }), m('young', 0), m('pulled', 10, { lastPulledAt: NOW }), m('cached')],
      cached: new Set(['cached']),
    });
    assert.deepEqual(markRepository(g, options).manifests.map((x) => x.digest), ['orphan-sig']);
    assert.deepEqual(markRepository(g, { ...options, deleteUntagged: false }).manifests, []);
  });

  test('a manifest retention untagged goes now, with the run start as its cutoff', () => {
    const g = graph({ manifests: [m('r', 0)] });
    const out = markRepository(g, { ...options, deleteUntagged: false, untaggedNow: new Set(['r']), now: NOW + 1 });
    assert.deepEqual(out.manifests, [{ digest: 'r', size: 1, before: NOW + 1 }]);
  });
});
