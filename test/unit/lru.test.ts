/** The second-chance cache (src/lib/lru.ts): bounded by weight, keeps what was used recently. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LruCache } from '../../src/lib/lru.js';

const keys = (cache: LruCache<string, number>, all: string[]) => all.filter((k) => cache.get(k) !== undefined);

test('the total weight stays within the bound; what was not used since the last pass goes first', () => {
  const cache = new LruCache<string, number>(3, () => 1);
  cache.set('a', 1);
  cache.set('b', 2);
  cache.set('c', 3);
  cache.get('a');
  cache.set('d', 4);
  // a was used: it gets a second chance (unmarked, moved to the young end); b, the oldest unused, goes.
  assert.equal(cache.get('b'), undefined);
  assert.deepEqual([cache.get('a'), cache.get('c'), cache.get('d')], [1, 3, 4]);
  // That read marked a, c and d again; e's pass unmarks and keeps them all in turn once, then drops the oldest.
  cache.set('e', 5);
  assert.equal(cache.get('e'), 5, 'a new entry never makes room for itself');
  assert.equal(['a', 'c', 'd'].filter((k) => cache.get(k) !== undefined).length, 2);
});

test('a value heavier than the bound is not kept; replacing a key replaces its weight', () => {
  const cache = new LruCache<string, Buffer>(10, (b) => b.length);
  cache.set('big', Buffer.alloc(11));
  assert.equal(cache.get('big'), undefined);
  cache.set('x', Buffer.alloc(6));
  cache.set('x', Buffer.alloc(4));
  cache.set('y', Buffer.alloc(6));
  assert.equal(cache.get('x')?.length, 4, 'x now weighs 4: both fit');
  assert.equal(cache.get('y')?.length, 6);
  cache.delete('x');
  cache.set('z', Buffer.alloc(4));
  assert.deepEqual([cache.get('y')?.length, cache.get('z')?.length], [6, 4]);
});

test('a hit moves nothing, and under a steady working set the hot entries stay', () => {
  const cache = new LruCache<string, number>(100, () => 1);
  for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
  const hot = Array.from({ length: 50 }, (_, i) => `k${i}`);
  // Streams of new keys, with the hot half used between them.
  for (let round = 0; round < 20; round++) {
    for (const k of hot) assert.equal(cache.get(k), Number(k.slice(1)));
    for (let i = 0; i < 10; i++) cache.set(`n${round}-${i}`, -1);
  }
  assert.equal(keys(cache, hot).length, 50, 'every hot key survived the streams');
});
