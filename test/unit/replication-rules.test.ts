/**
 * The pure parts of replication rules: tag filters (glob, regex, semver with short versions),
 * which repositories a push rule takes and how it names them at the target, platform selection,
 * definition checks, and the token bucket behind the bandwidth limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import { throttled, tokenBucket } from '../../src/lib/token-bucket.js';
import { platformSelected, pushSelects, targetRepository, validateDefinition, type PushSpec } from '../../src/replication/rule-spec.js';
import { tagMatcher, type TagFilter } from '../../src/replication/tag-filter.js';

const TAGS = ['1', '1.0', '1.1', '2.0', 'v2.1.3', '3.0', '20', '20.11', '20-alpine', '22.04', '24.04', '1.2.0-rc.1', 'latest', 'nightly'];
const taken = (filter: TagFilter) => TAGS.filter(tagMatcher(filter));

describe('tag filters', () => {
  it('glob: picomatch over the whole tag', () => {
    assert.deepEqual(taken({ type: 'glob', pattern: '1.*' }), ['1.0', '1.1', '1.2.0-rc.1']);
    assert.deepEqual(taken({ type: 'glob', pattern: '{22.04,24.04}' }), ['22.04', '24.04']);
    assert.deepEqual(taken({ type: 'glob', pattern: '*-alpine' }), ['20-alpine']);
    assert.equal(taken({ type: 'glob', pattern: '*' }).length, TAGS.length);
  });

  it('regex: anchored at both ends', () => {
    assert.deepEqual(taken({ type: 'regex', pattern: '22\\.04|24\\.04' }), ['22.04', '24.04']);
    assert.deepEqual(taken({ type: 'regex', pattern: '2' }), [], 'a partial match is not a match');
    assert.throws(() => tagMatcher({ type: 'regex', pattern: '(' }), (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_REQUEST' && /invalid regex tag filter "\("/.test(e.message));
  });

  it('semver: short versions count, suffixed tags and pre-releases do not', () => {
    assert.deepEqual(taken({ type: 'semver', pattern: '>=1 <3' }), ['1', '1.0', '1.1', '2.0', 'v2.1.3']);
    assert.deepEqual(taken({ type: 'semver', pattern: '>=20 <23' }), ['20', '20.11'], '20-alpine is not a version; 22.04 is not semver');
    assert.deepEqual(taken({ type: 'semver', pattern: '>=1.2.0-rc.0 <1.3' }), ['1.2.0-rc.1'], 'a range naming a pre-release of 1.2.0 takes it');
    assert.throws(() => tagMatcher({ type: 'semver', pattern: 'banana' }), /invalid semver tag filter "banana": not a semver range/);
    assert.throws(() => tagMatcher({ type: 'glob', pattern: '' }), /the pattern is empty/);
  });
});

describe('push rule selection and names', () => {
  const spec = (repositories: string | null, namespace: string | null): PushSpec => ({
    project: 'release',
    repositories,
    tags: null,
    target: { url: 'https://registry.example.com', namespace, upload: 'chunked', chunkBytes: 16 << 20 },
    triggers: ['push'],
    referrers: true,
  });

  it('takes repositories of its project matching the glob', () => {
    assert.equal(pushSelects(spec(null, null), 'release/app'), true);
    assert.equal(pushSelects(spec(null, null), 'releases/app'), false, 'another project with the same prefix');
    assert.equal(pushSelects(spec('tools/*', null), 'release/tools/cli'), true);
    assert.equal(pushSelects(spec('tools/*', null), 'release/app'), false);
    assert.equal(pushSelects(spec('tools/*', null), 'release/tools/cli/x'), false);
  });

  it('keeps the name, or puts the namespace in place of the project', () => {
    assert.equal(targetRepository(spec(null, null), 'release/tools/cli'), 'release/tools/cli');
    assert.equal(targetRepository(spec(null, 'acme/prod'), 'release/tools/cli'), 'acme/prod/tools/cli');
  });

  it('checks definitions: upstreams, repository names, platforms, target URLs', () => {
    const upstreams = new Set(['hub']);
    const pull = (extra: object) => ({ kind: 'pull' as const, pull: { upstream: 'hub', repositories: [{ name: 'library/node', tags: null }], platforms: [], ...extra } });
    assert.doesNotThrow(() => validateDefinition(pull({ platforms: ['linux/arm64/v8'] }), upstreams));
    assert.throws(() => validateDefinition(pull({ upstream: 'ghcr' }), upstreams), /"ghcr" is not one \(mirror\.upstreams: hub\)/);
    assert.throws(() => validateDefinition(pull({ repositories: [{ name: 'Library/Node', tags: null }] }), upstreams), /"Library\/Node" is not a repository name/);
    assert.throws(() => validateDefinition(pull({ repositories: [{ name: 'a/b', tags: null }, { name: 'a/b', tags: null }] }), upstreams), /named twice/);
    assert.throws(() => validateDefinition(pull({ platforms: ['amd64'] }), upstreams), /"amd64" is not a platform/);
    const push = (url: string) => ({ kind: 'push' as const, push: { ...spec(null, null), target: { ...spec(null, null).target, url } } });
    assert.doesNotThrow(() => validateDefinition(push('http://10.0.0.5:5000'), upstreams));
    assert.throws(() => validateDefinition(push('ftp://example.com'), upstreams), /must be http or https/);
    assert.throws(() => validateDefinition(push('https://user:pw@example.com'), upstreams), /credentials, not in the URL/);
  });

  it('selects platforms by os/architecture, or with the variant', () => {
    const arm = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    assert.equal(platformSelected([], arm), true, 'no list: every platform');
    assert.equal(platformSelected(['linux/arm64'], arm), true);
    assert.equal(platformSelected(['linux/arm64/v8'], arm), true);
    assert.equal(platformSelected(['linux/arm64/v7'], arm), false);
    assert.equal(platformSelected(['linux/amd64'], arm), false);
    assert.equal(platformSelected(['linux/amd64'], undefined), false, 'a child without a platform is not selected by a list');
  });
});

describe('token bucket', () => {
  it('holds the average to the rate after a one-second burst', async () => {
    const rate = 256 << 10;
    const bucket = tokenBucket(rate);
    const started = Date.now();
    let bytes = 0;
    async function* source() {
      for (let i = 0; i < 12; i++) yield Buffer.alloc(64 << 10);
    }
    for await (const chunk of throttled(source(), bucket)) bytes += chunk.length;
    const seconds = (Date.now() - started) / 1000;
    // 768 KiB at 256 KiB/s with 256 KiB of burst: at least two seconds (a lower bound only).
    assert.equal(bytes, 768 << 10);
    assert.ok(seconds >= 1.9, `took ${seconds} s`);
  });

  it('refuses a rate that is not positive', () => {
    assert.throws(() => tokenBucket(0), RangeError);
  });
});
