#!/usr/bin/env node
// write-size.mjs: how fast this machine puts new bytes into the page cache, by write(2) size, and
// how much it matters whether the memory taken was freed a moment ago. No registry involved.
//
// Usage: node bench/write-size.mjs [DIR] [SIZES]   (default: $TMPDIR or /tmp; 32768,65536,1048576)
// Part 1 writes 256 MiB files (no fsync), three rounds over the sizes, and prints MiB/s and the
// kernel time of each. Part 2 writes 512 MiB files with 64 KiB writes: A and B into whatever memory
// is free, C right after A is deleted (its pages freed a moment ago), D 15 s after B is deleted.
// On a VM whose balloon reports free pages to the host, C is ~10x faster than D, and large writes
// are slow unless recently freed memory is at hand: see docs/benchmarks.md "Why 64 KiB writes".
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MiB = 1 << 20;
const [parent = tmpdir(), sizeList = '32768,65536,1048576'] = process.argv.slice(2);
const sizes = sizeList.split(',').map(Number);
const directory = mkdtempSync(join(parent, 'write-size-'));
const source = randomFillSync(Buffer.allocUnsafe(4 * MiB));

/** Writes `total` bytes to a new file in `size` writes; returns "MiB/s, kernel ms". */
function writeFile(path, total, size) {
  const fd = openSync(path, 'w');
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let written = 0; written < total; written += size) writeSync(fd, source, written % (source.length - size + 1), size);
  const ms = performance.now() - start;
  const { system } = process.cpuUsage(cpu);
  closeSync(fd);
  return `${(total / MiB / (ms / 1000)).toFixed(0).padStart(5)} MiB/s, kernel ${(system / 1000).toFixed(0)} ms`;
}

try {
  console.log('part 1: 256 MiB per file, write(2) only');
  let n = 0;
  for (let round = 1; round <= 3; round++) {
    for (const size of sizes) console.log(`  round ${round}, ${String(size).padStart(8)} B writes: ${writeFile(join(directory, `p1-${n++}`), 256 * MiB, size)}`);
  }
  for (let i = 0; i < n; i++) unlinkSync(join(directory, `p1-${i}`));

  console.log('part 2: 512 MiB per file, 64 KiB writes');
  const file = (name) => join(directory, name);
  console.log(`  A, memory as found:             ${writeFile(file('A'), 512 * MiB, 64 << 10)}`);
  console.log(`  B, memory as found:             ${writeFile(file('B'), 512 * MiB, 64 << 10)}`);
  unlinkSync(file('A'));
  console.log(`  C, right after A was deleted:   ${writeFile(file('C'), 512 * MiB, 64 << 10)}`);
  unlinkSync(file('B'));
  await sleep(15_000);
  console.log(`  D, 15 s after B was deleted:    ${writeFile(file('D'), 512 * MiB, 64 << 10)}`);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
