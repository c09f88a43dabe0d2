import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import { digestFromHash, digestOf, looksLikeDigest, newHasher, parseDigest, tryParseDigest } from '../../src/oci/digest.js';
import { isValidTag, MAX_NAME_LENGTH, parseRepositoryName, parseTag, projectOf } from '../../src/oci/names.js';

const hex64 = 'a'.repeat(64);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RegistryError, String(error));
    return error.code;
  }
  return undefined;
}

describe('oci/digest', () => {
  it('parses sha256 and sha512 digests', () => {
    assert.deepEqual(parseDigest(`sha256:${hex64}`), { algorithm: 'sha256', hex: hex64, value: `sha256:${hex64}` });
    const h512 = 'b'.repeat(128);
    assert.equal(parseDigest(`sha512:${h512}`).algorithm, 'sha512');
  });

  it('refuses malformed digests with DIGEST_INVALID', () => {
    for (const bad of ['', 'sha256', 'sha256:', `sha256:${'a'.repeat(63)}`, `sha256:${'a'.repeat(65)}`, `sha256:${'A'.repeat(64)}`, `sha256:${'g'.repeat(64)}`,
      `md5:${'a'.repeat(32)}`, `sha384:${'a'.repeat(96)}`, `SHA256:${hex64}`, ` sha256:${hex64}`, `sha256:${hex64}\n`, `sha256:../../${hex64}`, `sha512:${hex64}`]) {
      assert.equal(code(() => parseDigest(bad)), 'DIGEST_INVALID', JSON.stringify(bad));
      assert.equal(tryParseDigest(bad), null);
    }
  });

  it('computes digests like sha256sum', () => {
    const data = Buffer.from('hello');
    const expected = 'sha256:' + createHash('sha256').update(data).digest('hex');
    assert.equal(digestOf(data).value, expected);
    const h = newHasher('sha256');
    h.update('hel');
    h.update('lo');
    assert.equal(digestFromHash('sha256', h).value, expected);
    assert.equal(digestOf(data, 'sha512').value.length, 'sha512:'.length + 128);
  });

  it('tells digests from tags by the colon', () => {
    assert.equal(looksLikeDigest(`sha256:${hex64}`), true);
    assert.equal(looksLikeDigest('latest'), false);
    assert.equal(looksLikeDigest('v1.2.3'), false);
  });
});

describe('oci/names', () => {
  it('accepts the spec grammar, nested, up to 255 characters', () => {
    for (const ok of ['a', 'library/ubuntu', 'a/b/c/d/e/f', 'a.b', 'a_b', 'a__b', 'a-b', 'a---b', '0', 'x9/y8', 'a'.repeat(MAX_NAME_LENGTH)]) {
      assert.equal(parseRepositoryName(ok), ok);
    }
    assert.equal(MAX_NAME_LENGTH, 255);
  });

  it('refuses everything else with NAME_INVALID', () => {
    for (const bad of ['', 'A', 'a/B', '..', '.', 'a/..', '../a', 'a/./b', '.a', 'a.', '-a', 'a-', '_a', 'a_', 'a___b', 'a..b', 'a._b', '/a', 'a/', 'a//b',
      '%2e%2e', 'a%2fb', 'a b', 'a:b', 'a@b', 'a\\b', 'a\u0000b', 'é', 'a'.repeat(256)]) {
      assert.equal(code(() => parseRepositoryName(bad)), 'NAME_INVALID', JSON.stringify(bad));
    }
  });

  it('tags: spec grammar, 128 characters at most', () => {
    for (const ok of ['latest', 'v1.2.3', 'V_1-x', '_x', '0', 'a'.repeat(128)]) {
      assert.equal(isValidTag(ok), true, ok);
      assert.equal(parseTag(ok), ok);
    }
    for (const bad of ['', '.a', '-a', 'a'.repeat(129), 'a/b', 'a:b', 'a b', 'a@b', `sha256:${hex64}`]) {
      assert.equal(isValidTag(bad), false, bad);
      assert.equal(code(() => parseTag(bad)), 'TAG_INVALID', bad);
    }
  });

  it('projectOf is the first path component', () => {
    assert.equal(projectOf('a/b/c'), 'a');
    assert.equal(projectOf('solo'), 'solo');
  });
});
