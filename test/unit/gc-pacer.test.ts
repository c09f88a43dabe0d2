/**
 * The GC pacer (src/gc/pacer.ts): at full speed big steps and no rests; below 1, small steps and
 * rests that keep the working time at the duty cycle's share of the wall clock, capped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDutyCycle, gcPacer } from '../../src/gc/pacer.js';

/** How long `rest()` takes after a step the fake clock says took `stepMs`. */
async function restAfter(dutyCycle: number, stepMs: number): Promise<{ restedMs: number; readRows: number; rowsPerStep: number; keysPerRequest: number }> {
  let fake = 0;
  const pacer = gcPacer(dutyCycle, () => fake);
  fake += stepMs;
  const started = performance.now();
  await pacer.rest();
  return { restedMs: performance.now() - started, readRows: pacer.readRows, rowsPerStep: pacer.rowsPerStep, keysPerRequest: pacer.keysPerRequest };
}

test('full speed: big steps, a rest is one turn of the event loop', async () => {
  const { restedMs, readRows, rowsPerStep, keysPerRequest } = await restAfter(1, 500);
  assert.equal(readRows, 1000);
  assert.equal(rowsPerStep, 250);
  assert.equal(keysPerRequest, 50);
  assert.ok(restedMs < 50, `rested ${restedMs} ms`);
});

test('a duty cycle of 0.25 rests three times as long as the step worked, in small steps', async () => {
  const { restedMs, readRows, rowsPerStep, keysPerRequest } = await restAfter(0.25, 40);
  assert.equal(readRows, 200);
  assert.equal(rowsPerStep, 25);
  assert.equal(keysPerRequest, 5);
  assert.ok(restedMs >= 115 && restedMs < 400, `rested ${restedMs} ms for a 40 ms step`);
});

test('a rest is capped at two seconds, whatever the step took', async () => {
  const { restedMs } = await restAfter(0.05, 10_000);
  assert.ok(restedMs >= 1_990 && restedMs < 2_600, `rested ${restedMs} ms`);
});

test('the next rest counts from the end of the previous one', async () => {
  let fake = 0;
  const pacer = gcPacer(0.5, () => fake);
  fake += 30;
  await pacer.rest();
  // The clock did not move during the rest or after it: no work, no rest.
  const started = performance.now();
  await pacer.rest();
  assert.ok(performance.now() - started < 30);
});

test('the default duty cycle: a half on SQLite + filesystem (a worker thread), a quarter once a server of its own does the work', () => {
  assert.equal(defaultDutyCycle('sqlite', 'filesystem'), 0.5);
  assert.equal(defaultDutyCycle('postgres', 'filesystem'), 0.25);
  assert.equal(defaultDutyCycle('sqlite', 's3'), 0.25);
  assert.equal(defaultDutyCycle('postgres', 'oss'), 0.25);
});
