/**
 * Telling whether the process behind a lease holder's name is gone (src/lib/process-identity.ts):
 * a live process is not, an ended one is, and so is an id that a later process took over.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { isGoneFromThisHost, processIdentity } from '../../src/lib/process-identity.js';

test('this process is not gone; an ended one is; another host cannot be told', async () => {
  const mine = processIdentity();
  assert.match(mine, new RegExp(`^${hostname()}:${process.pid}:\\d+$`));
  assert.equal(isGoneFromThisHost(`${mine}:some-uuid`), false);

  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await once(child, 'exit');
  assert.equal(isGoneFromThisHost(`${hostname()}:${pid}:1:some-uuid`), true, 'its process ended');
  assert.equal(isGoneFromThisHost(`elsewhere:${pid}:1:some-uuid`), false, 'another host');
});

test('a live id with another start time is a later process: the named one is gone; a name without a start time goes by the id', () => {
  const [host, pid, started] = processIdentity().split(':');
  assert.equal(isGoneFromThisHost(`${host}:${pid}:${Number(started) + 1}:x`), true);
  assert.equal(isGoneFromThisHost(`${host}:${pid}:0b9f3c5e-uuid-of-an-older-format`), false);
});
