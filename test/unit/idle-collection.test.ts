/**
 * The idle collection compacts the old generation: after a burst of work leaves pages half full,
 * V8's own full collections keep them committed (they compact only the most fragmented pages);
 * the idle collector's give the empty pages back. And a part that fails to stop for the idle
 * period does not keep the collection from running. A collection runs once per idle period, and
 * again only when the RSS grows back.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { idleMemoryReclaimer, type IdleCollection } from '../../src/lib/idle-memory.js';

const collectorModule = new URL('../../src/lib/idle-memory.js', import.meta.url).href;

/** Old space committed and used (MiB) after half of 400,000 small objects, interleaved, died. */
function oldSpaceAfter(collection: 'plain' | 'idle'): { committed: number; used: number } {
  const script = `
    import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
    import { runInNewContext } from 'node:vm';
    import { compactingCollector } from ${JSON.stringify(collectorModule)};
    // All alive until the loop ends, so they reach the old generation; then every other one dies.
    let all = [];
    for (let i = 0; i < 400_000; i++) all.push({ i, s: 'x' + i, a: [i, i + 1] });
    const kept = all.filter((_, i) => i % 2);
    all = undefined;
    if (${JSON.stringify(collection)} === 'idle') compactingCollector()();
    else { setFlagsFromString('--expose-gc'); const gc = runInNewContext('gc'); gc(); gc(); }
    const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
    console.log(JSON.stringify({ committed: old.space_size / 1048576, used: old.space_used_size / 1048576, kept: kept.length }));
  `;
  // bin/wharf's V8 flags: the memory reducer, which would compact on its own, is off.
  const run = spawnSync(process.execPath, ['--no-memory-reducer', '--single-threaded-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as { committed: number; used: number };
}

test('the idle collection gives back the old-space pages that plain full collections keep committed', () => {
  const plain = oldSpaceAfter('plain');
  const idle = oldSpaceAfter('idle');
  // The same live objects either way; measured: ~55 MiB committed for ~31 used after plain
  // collections, ~31 committed after the idle collection's.
  assert.ok(Math.abs(plain.used - idle.used) < 4, `live data differs: ${JSON.stringify({ plain, idle })}`);
  assert.ok(plain.committed - plain.used > 10, `plain collections left no fragmentation to measure: ${JSON.stringify(plain)}`);
  assert.ok(idle.committed - idle.used < 3, `the idle collection kept empty pages committed: ${JSON.stringify(idle)}`);
});

test('a part that fails to stop is reported, and the idle collection still runs', async () => {
  const collection = await new Promise<IdleCollection>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error('no idle collection within 35 s')), 35_000);
    const reclaimer = idleMemoryReclaimer({
      release: async () => {
        throw new Error('the worker would not stop');
      },
      onCollect: (c) => {
        clearTimeout(timeout);
        reclaimer.stop();
        resolve(c);
      },
    });
  });
  assert.equal(collection.releaseFailed, 'the worker would not stop');
  assert.deepEqual(collection.released, []);
  assert.ok(collection.rssAfter > 0 && collection.durationMs >= 0, JSON.stringify(collection));
});

test('one collection per idle period, and another in the same idle period once the RSS grew again (a part that started again)', async () => {
  const collections: IdleCollection[] = [];
  const reclaimer = idleMemoryReclaimer({ checkMs: 300, onCollect: (c) => collections.push(c) });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  try {
    for (let waited = 0; collections.length === 0 && waited < 10_000; waited += 100) await sleep(100);
    assert.equal(collections.length, 1, 'the first idle window collects');
    await sleep(1_500);
    assert.equal(collections.length, 1, 'idle windows after it do not, while the RSS stays');
    // Memory that stays in use, touched so that it counts in the RSS: as a restarted thread would.
    const grown = Buffer.alloc(32 << 20, 1);
    for (let waited = 0; collections.length === 1 && waited < 10_000; waited += 100) await sleep(100);
    assert.equal(collections.length, 2, `the RSS grew by ${(grown.length / 1048576).toFixed(0)} MiB: collected again`);
    assert.ok(collections[1]!.rssBefore >= collections[0]!.rssAfter + (8 << 20), JSON.stringify(collections));
    await sleep(1_500);
    assert.equal(collections.length, 2, 'and not again while it stays there');
  } finally {
    reclaimer.stop();
  }
});
