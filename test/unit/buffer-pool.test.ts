import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, releasePooledBuffers } from '../../src/lib/buffer-pool.js';

test('a pool hands back the buffers it was given, keeping at most its limit', () => {
  const pool = new BufferPool(1024, 2);
  const [a, b, c] = [pool.take(), pool.take(), pool.take()];
  pool.give(a);
  pool.give(b);
  pool.give(c); // over the limit: dropped
  pool.give(Buffer.alloc(10)); // another size: dropped
  const again = new Set([pool.take(), pool.take()]);
  assert.deepEqual(again, new Set([a, b]));
  assert.notEqual(pool.take(), c);
});

test('releasing empties every live pool and reports the bytes let go', () => {
  releasePooledBuffers(); // pools of other tests in this process
  const small = new BufferPool(1024, 4);
  const large = new BufferPool(4096, 4);
  const [kept, other] = [small.take(), small.take()];
  small.give(kept);
  small.give(other);
  large.give(large.take());
  assert.equal(releasePooledBuffers(), 2 * 1024 + 4096);
  assert.notEqual(small.take(), kept, 'a released buffer is not handed out again');
  assert.equal(releasePooledBuffers(), 0);
});
