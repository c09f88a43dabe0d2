/**
 * The delivery flow's pure parts: tag patterns, layer chain ids, image references, retry delays,
 * the webhook network guard, HMAC signatures, the secret box and the Distribution envelope.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { retryDelay } from '../../src/events/delivery.js';
import { networkGuard } from '../../src/events/network-guard.js';
import { renderEvent, signature } from '../../src/events/payload.js';
import { openSecretBox } from '../../src/lib/secret-box.js';
import type { WharfEvent } from '../../src/events/types.js';
import { splitImageReference } from '../../src/oci/names.js';
import { chainId, prefixChainIds } from '../../src/workflow/layer-chain.js';
import { isTagPattern, tagPatternMatches, tagProtection } from '../../src/workflow/tag-rules.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('tag patterns', () => {
  it('match * and ? and nothing else', () => {
    assert.ok(tagPatternMatches('*', 'anything.at-all'));
    assert.ok(tagPatternMatches('v*', 'v1.2.3'));
    assert.ok(!tagPatternMatches('v*', 'latest'));
    assert.ok(tagPatternMatches('release-*', 'release-2024'));
    assert.ok(tagPatternMatches('1.?', '1.5'));
    assert.ok(!tagPatternMatches('1.?', '1.10'));
    assert.ok(!tagPatternMatches('1.*', '1x0'), 'a dot is a dot');
    assert.ok(isTagPattern('v*') && isTagPattern('*') && !isTagPattern('a b') && !isTagPattern('[a-z]'));
  });

  it('tell garbage collection which tags an immutability rule holds', async () => {
    const rules = { release: { project: 'release', promoteMinRole: null, promoteFrom: null, immutableTags: ['v*'], updatedBy: 'root', updatedAt: 0 } };
    const protection = tagProtection({ get: async (project: string) => (project === 'release' ? rules.release : undefined) });
    assert.equal(await protection.isProtected('release/app', 'v1.0'), 'immutable tags v* of project release');
    assert.equal(await protection.isProtected('release/app', 'latest'), undefined);
    assert.equal(await protection.isProtected('dev/app', 'v1.0'), undefined);
  });
});

describe('layer chains', () => {
  it('the prefix ids of a list are the chain ids of its prefixes', () => {
    const layers = [d('a'), d('b'), d('c')];
    assert.deepEqual(prefixChainIds(layers), [chainId([d('a')]), chainId([d('a'), d('b')])]);
    assert.deepEqual(prefixChainIds([d('a')]), []);
    assert.notEqual(chainId([d('a'), d('b')]), chainId([d('b'), d('a')]), 'order matters');
  });
});

describe('image references', () => {
  it('drop a registry host, keep the path and the reference', () => {
    assert.deepEqual(splitImageReference('dev/app:1.0'), { repository: 'dev/app', reference: '1.0' });
    assert.deepEqual(splitImageReference('127.0.0.1:5000/dev/app'), { repository: 'dev/app', reference: undefined });
    assert.deepEqual(splitImageReference(`registry.example.com/base/jdk@${d('e')}`), { repository: 'base/jdk', reference: d('e') });
    assert.deepEqual(splitImageReference('localhost/app:x'), { repository: 'app', reference: 'x' });
    assert.deepEqual(splitImageReference('library/alpine'), { repository: 'library/alpine', reference: undefined });
  });
});

describe('retry delays', () => {
  it('double from the base up to the cap, with at most 10 % jitter', () => {
    const settings = { retryBaseMs: 1000, retryMaxMs: 10_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => retryDelay(n, settings, () => 0)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
    assert.equal(retryDelay(2, settings, () => 1), 2200);
  });
});

describe('webhook network guard', () => {
  it('refuses private, loopback, link-local and reserved addresses unless allowed', () => {
    const guard = networkGuard([]);
    for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '224.0.0.1']) {
      assert.match(guard.refusal(address) ?? '', /private or reserved/, address);
    }
    for (const address of ['93.184.216.34', '2606:2800:220:1::1']) assert.equal(guard.refusal(address), undefined, address);
    const allowing = networkGuard(['10.20.0.0/16', '127.0.0.1']);
    assert.equal(allowing.refusal('10.20.3.4'), undefined);
    assert.equal(allowing.refusal('127.0.0.1'), undefined);
    assert.match(allowing.refusal('10.21.0.1') ?? '', /private or reserved/);
  });

  it('checks the addresses a name resolves to', async () => {
    const lookup = networkGuard([]).lookup;
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)));
    assert.equal(error?.code, 'EWEBHOOKREFUSED');
  });
});

describe('signatures and the secret box', () => {
  it('sign the exact body with HMAC-SHA256', () => {
    const body = Buffer.from('{"a":1}');
    assert.equal(signature('s3cret', body), `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
  });

  it('seal and open secrets; a stored key is generated once; a configured key wins and older secrets still open', async () => {
    const keys: Array<{ id: string; key: string }> = [];
    const store = { keys: async () => keys, addKey: async (id: string, key: string) => void keys.push({ id, key }) };
    const box = await openSecretBox(store, { name: 'webhooks.encryptionKey', value: undefined }, 0);
    const sealed = box.seal('hunter2-hunter2');
    assert.doesNotMatch(sealed, /hunter2/);
    assert.equal(box.open(sealed), 'hunter2-hunter2');
    assert.equal(keys.length, 1);
    await openSecretBox(store, { name: 'webhooks.encryptionKey', value: undefined }, 0);
    assert.equal(keys.length, 1, 'the stored key is reused');
    const configured = await openSecretBox(store, { name: 'webhooks.encryptionKey', value: Buffer.alloc(32, 7).toString('base64') }, 0);
    assert.equal(configured.open(sealed), 'hunter2-hunter2');
    assert.match(configured.seal('x'.repeat(16)), /^v1:config-/);
    assert.throws(() => box.open(sealed.replace(/:[^:]+$/, ':AAAA')));
  });
});

describe("Distribution's envelope", () => {
  it('a promotion is a push into the target', () => {
    const event: WharfEvent<'promotion'> = {
      id: 'e1',
      type: 'promotion',
      time: '2026-01-01T00:00:00.000Z',
      project: 'qa',
      actor: 'bob',
      request: { id: 'r1', addr: '10.0.0.9', host: 'registry.example.com', method: 'POST', userAgent: 'curl' },
      data: { source: { repository: 'dev/app', reference: '1.0' }, target: { repository: 'qa/app', tag: '1.0' }, digest: d('f'), mediaType: 'application/vnd.oci.image.index.v1+json', size: 500, note: null, manifests: 3 },
    };
    const rendered = renderEvent(event, 'distribution', { addr: 'wharf-1', instanceId: 'i1', publicUrl: 'https://registry.example.com' });
    assert.equal(rendered.contentType, 'application/vnd.docker.distribution.events.v1+json');
    const { events } = JSON.parse(rendered.body.toString()) as { events: Array<Record<string, unknown>> };
    assert.deepEqual(events[0], {
      id: 'e1',
      timestamp: '2026-01-01T00:00:00.000Z',
      action: 'push',
      target: { mediaType: event.data.mediaType, size: 500, digest: d('f'), length: 500, repository: 'qa/app', fromRepository: 'dev/app', url: `https://registry.example.com/v2/qa/app/manifests/${d('f')}`, tag: '1.0' },
      request: { id: 'r1', addr: '10.0.0.9', host: 'registry.example.com', method: 'POST', useragent: 'curl' },
      actor: { name: 'bob' },
      source: { addr: 'wharf-1', instanceID: 'i1' },
    });
  });
});
