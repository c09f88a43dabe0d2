/** The mirror's pure parts: challenge parsing, the circuit breaker, name routing. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CircuitBreaker } from '../../src/mirror/circuit-breaker.js';
import { MirrorRouter, type Upstream } from '../../src/mirror/routing.js';
import type { UpstreamClient } from '../../src/mirror/upstream-client.js';
import { parseChallenge } from '../../src/mirror/www-authenticate.js';

describe('mirror units', () => {
  test('WWW-Authenticate: Bearer with a comma inside a quoted scope; Basic; garbage', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull,push' },
    });
    assert.deepEqual(parseChallenge('Basic realm="x \\"y\\""'), { scheme: 'basic', params: { realm: 'x "y"' } });
    assert.equal(parseChallenge(undefined), undefined);
    assert.equal(parseChallenge('   '), undefined);
  });

  test('circuit breaker: opens after the threshold, fails fast, lets one trial through, closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now });
    for (let i = 0; i < 2; i++) breaker.failure();
    assert.equal(breaker.state, 'closed');
    breaker.failure();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.allow(), false);
    assert.equal(breaker.retryInMs(), 1000);
    now = 1000;
    assert.equal(breaker.allow(), true, 'one trial');
    assert.equal(breaker.allow(), false, 'only one at a time');
    breaker.failure();
    assert.equal(breaker.state, 'open');
    now = 2000;
    assert.equal(breaker.allow(), true);
    breaker.success();
    assert.equal(breaker.state, 'closed');
    // a 429's Retry-After opens it at once, for at least that long
    breaker.failure(5000);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryInMs(), 5000);
  });

  test('router: proxy projects, docker.io library/ names, ?ns= registries', () => {
    const client = { name: 'x', url: 'http://x', request: () => Promise.reject(new Error('unused')), close() {} } satisfies UpstreamClient;
    const upstream = (name: string, registry: string, isDefault = false): Upstream => ({ name, registry, ttlSeconds: 1, default: isDefault, client });
    const router = new MirrorRouter([upstream('hub', 'docker.io', true), upstream('ghcr', 'ghcr.io')]);
    assert.deepEqual(
      (({ upstreamRepository, cacheRepository }) => ({ upstreamRepository, cacheRepository }))(router.proxyRoute('hub/alpine')!),
      { upstreamRepository: 'library/alpine', cacheRepository: 'hub/library/alpine' },
    );
    assert.equal(router.proxyRoute('ghcr/org/tool')!.upstreamRepository, 'org/tool');
    assert.equal(router.proxyRoute('team/app'), undefined);
    assert.throws(() => router.proxyRoute('hub'), /NAME_UNKNOWN|mirror of docker\.io/);
    assert.equal(router.isMirrorName('hub/x'), true);
    assert.equal(router.isMirrorName('hubx/x'), false);
    assert.equal(router.resolveNamespace('docker.io', 'library/alpine'), 'hub/library/alpine');
    assert.equal(router.resolveNamespace('GHCR.IO', 'org/tool'), 'ghcr/org/tool');
    assert.equal(router.resolveNamespace('quay.io', 'org/tool'), undefined);
    assert.equal(router.defaultUpstream?.name, 'hub');
  });
});
