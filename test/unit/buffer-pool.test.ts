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

test('a pool keeps as many as were lent at its busiest moment, up to its ceiling, until released', () => {
  const pool = new BufferPool(1024, 2, 5);
  const busy = Array.from({ length: 8 }, () => pool.take());
  for (const buffer of busy) pool.give(buffer);
  // 8 were lent at once: 5 (the ceiling) come back, not 2.
  const again = Array.from({ length: 6 }, () => pool.take());
  assert.equal(again.filter((b) => busy.includes(b)).length, 5);
  for (const buffer of again) pool.give(buffer);
  pool.release();
  // Released: the busiest moment starts over from what is lent now (nothing), so the floor applies.
  const quiet = Array.from({ length: 3 }, () => pool.take());
  for (const buffer of quiet) pool.give(buffer);
  assert.equal(Array.from({ length: 3 }, () => pool.take()).filter((b) => quiet.includes(b)).length, 3, 'three were lent at once since the release');
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

test('tryTake lends at most lendAtMost at once; allocate makes the new ones', () => {
  const made: Buffer[] = [];
  const pool = new BufferPool(4096, 1, 4, { allocate: (size) => (made.push(Buffer.alloc(size, made.length)), made.at(-1)!), lendAtMost: 2 });
  const a = pool.tryTake();
  const b = pool.tryTake();
  assert.ok(a && b);
  assert.deepEqual(made, [a, b], 'both came from allocate');
  assert.equal(pool.tryTake(), undefined, 'a third is refused while two are lent');
  pool.give(a);
  assert.equal(pool.tryTake(), a, 'given back: lent again, not allocated');
  assert.equal(made.length, 2);
});
