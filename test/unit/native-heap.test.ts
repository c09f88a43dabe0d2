/**
 * The native heap trimmer: on this Debian machine (glibc) it loads, and it gives back memory that
 * glibc kept after buffers were freed, which nothing else returns.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadNativeHeapTrimmer } from '../../src/lib/native-heap.js';

const rssMiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

test('malloc_trim gives back the freed 64 KiB buffers that glibc kept', async () => {
  const trimmer = await loadNativeHeapTrimmer();
  assert.ok('trim' in trimmer, `trimmer unavailable: ${'unavailable' in trimmer ? trimmer.unavailable : ''}`);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  // 64 KiB is under glibc's mmap threshold, so these come from its heap, as socket reads do.
  let buffers: Buffer[] | undefined = Array.from({ length: 640 }, () => Buffer.allocUnsafeSlow(64 << 10).fill(1));
  // Allocated after them, it keeps the freed space from being the top of the heap, which free()
  // returns by itself.
  const pin = Buffer.allocUnsafeSlow(64 << 10).fill(2);
  buffers = undefined;
  gc();
  gc();
  const beforeTrim = rssMiB();
  trimmer.trim();
  const afterTrim = rssMiB();
  assert.equal(pin[0], 2);
  assert.equal(buffers, undefined);
  // 40 MiB were freed; allow for what the heap reuses for other allocations.
  assert.ok(beforeTrim - afterTrim >= 20, `RSS ${beforeTrim.toFixed(1)} MiB before the trim, ${afterTrim.toFixed(1)} MiB after`);
});
