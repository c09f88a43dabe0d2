import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../../src/errors.js';
import { parseContentRange, parseRangeHeader } from '../../src/http/v2/range.js';

function rangeError(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RegistryError);
    return error;
  }
  assert.fail('expected an error');
}

describe('Range of a blob GET', () => {
  it('no header: whole blob', () => {
    assert.equal(parseRangeHeader(undefined, 100), undefined);
  });

  it('bytes=a-b, a-, -n as half-open ranges, clamped to the size', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-0', 100), { start: 0, end: 1 });
    assert.deepEqual(parseRangeHeader('bytes=10-19', 100), { start: 10, end: 20 });
    assert.deepEqual(parseRangeHeader('bytes=90-', 100), { start: 90, end: 100 });
    assert.deepEqual(parseRangeHeader('bytes=-10', 100), { start: 90, end: 100 });
    assert.deepEqual(parseRangeHeader('bytes=-1000', 100), { start: 0, end: 100 });
    assert.deepEqual(parseRangeHeader('bytes=50-1000', 100), { start: 50, end: 100 });
    assert.deepEqual(parseRangeHeader(' bytes=1-2 ', 100), { start: 1, end: 3 });
  });

  it('unsatisfiable or malformed: 416 RANGE_INVALID with Content-Range bytes */size', () => {
    for (const h of ['bytes=100-', 'bytes=100-200', 'bytes=5-4', 'bytes=-0', 'bytes=-', 'bytes=', 'bytes=a-b', 'items=0-1', 'bytes=0-1,3-4', '0-1', `bytes=${'9'.repeat(30)}-`]) {
      const e = rangeError(() => parseRangeHeader(h, 100));
      assert.equal(e.code, 'RANGE_INVALID', h);
      assert.equal(e.status, 416);
      assert.deepEqual(e.headers, { 'Content-Range': 'bytes */100' });
    }
    assert.equal(rangeError(() => parseRangeHeader('bytes=0-', 0)).status, 416);
  });
});

describe('Content-Range of an upload chunk', () => {
  it('inclusive start-end, with an optional bytes prefix and total', () => {
    assert.equal(parseContentRange(undefined), undefined);
    assert.equal(parseContentRange(''), undefined);
    assert.deepEqual(parseContentRange('0-999'), { start: 0, end: 999 });
    assert.deepEqual(parseContentRange('bytes 10-19/100'), { start: 10, end: 19 });
    assert.deepEqual(parseContentRange('bytes=10-19'), { start: 10, end: 19 });
    assert.deepEqual(parseContentRange('10-19/*'), { start: 10, end: 19 });
  });

  it('garbage is 416 BLOB_UPLOAD_INVALID', () => {
    for (const h of ['x', '10', '-5', '1-', 'bytes */100', '1-2-3']) {
      const e = rangeError(() => parseContentRange(h));
      assert.equal(e.code, 'BLOB_UPLOAD_INVALID', h);
      assert.equal(e.status, 416);
    }
  });
});
