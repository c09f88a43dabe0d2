/**
 * Presigned URL reuse (src/storage/presigned-urls.ts): one signature per key and lifetime for a
 * quarter of that lifetime, at most a minute; then a fresh one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reusedSignatures } from '../../src/storage/presigned-urls.js';

function signer() {
  let clock = 1_000_000;
  const calls: string[] = [];
  const sign = reusedSignatures(async (key, expires) => {
    calls.push(`${key}@${expires}`);
    return `https://store.example/${key}?expires=${expires}&signed=${clock}`;
  }, () => clock);
  return { sign, calls, advance: (ms: number) => (clock += ms) };
}

test('a URL is reused for a quarter of its lifetime, then signed again', async () => {
  const { sign, calls, advance } = signer();
  const first = await sign('blobs/a', 40);
  advance(9_999);
  assert.equal(await sign('blobs/a', 40), first, 'still within 10 s of 40 s');
  advance(1);
  const second = await sign('blobs/a', 40);
  assert.notEqual(second, first);
  assert.deepEqual(calls, ['blobs/a@40', 'blobs/a@40']);
});

test('reuse lasts a minute at most, and keys and lifetimes are signed apart', async () => {
  const { sign, calls, advance } = signer();
  const long = await sign('blobs/a', 3600);
  await sign('blobs/b', 3600);
  await sign('blobs/a', 600);
  advance(59_999);
  assert.equal(await sign('blobs/a', 3600), long);
  advance(1);
  assert.notEqual(await sign('blobs/a', 3600), long, 'a quarter of an hour would be 15 min: capped at 60 s');
  assert.deepEqual(calls, ['blobs/a@3600', 'blobs/b@3600', 'blobs/a@600', 'blobs/a@3600']);
});
