#!/usr/bin/env node
// light-load.mjs: a light, steady background load for "busy machine" benchmark runs — one
// process that keeps a share of one core busy (hashing, in 10 ms slices) and writes a little to
// disk now and then, for a bounded time. Run it beside a benchmark that alternates its rounds
// between the servers compared, so each side sees the same load.
//
// Usage: node bench/light-load.mjs [--share 0.3] [--seconds 1200] [--write-kib 256]
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { share: { type: 'string', default: '0.3' }, seconds: { type: 'string', default: '1200' }, 'write-kib': { type: 'string', default: '256' } } });
const share = Math.min(1, Math.max(0, Number(args.share)));
const end = Date.now() + Number(args.seconds) * 1000;
const SLICE_MS = 10;
const block = randomBytes(64 << 10);
const scratch = join(tmpdir(), `wharf-light-load-${process.pid}`);
const chunk = randomBytes(Number(args['write-kib']) << 10);
let slices = 0;

function slice() {
  if (Date.now() >= end) {
    rmSync(scratch, { force: true });
    return;
  }
  const started = Date.now();
  while (Date.now() - started < SLICE_MS) createHash('sha256').update(block).digest();
  // About once a second: a small write, as a busy host's other services would do.
  if (++slices % Math.max(1, Math.round(1000 / (SLICE_MS / share))) === 0) writeFileSync(scratch, chunk);
  setTimeout(slice, (SLICE_MS * (1 - share)) / share);
}
slice();
