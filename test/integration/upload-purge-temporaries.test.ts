/**
 * The upload purge also removes the filesystem store's temporary files that a crash left behind
 * (an object write or a manifest's staged bytes cut off before the rename), once they are older
 * than the purge age, and reports how many; the files of writes in progress stay.
 */
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { purgeStaleUploads } from '../../src/registry/upload-purge.js';
import { storeTemporaries } from '../fixtures/paths.js';
import { harness } from './gc-harness.js';

test('the upload purge removes temporary files older than its cutoff and counts them', async (t) => {
  const h = await harness(t, 'sqlite', { staging: true });
  const tmp = path.join(h.dir, 'storage', 'tmp');
  await h.storage.stage!(Buffer.from('a crash left me'));
  await h.storage.stage!(Buffer.from('a PUT in progress'));
  const [abandoned, current] = await storeTemporaries(path.join(h.dir, 'storage'));
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
  await utimes(path.join(tmp, abandoned!), twoDaysAgo, twoDaysAgo);
  const logged: Array<Record<string, unknown>> = [];
  const result = await purgeStaleUploads({
    metadata: h.metadata,
    storage: h.storage,
    content: h.content,
    now: Date.now,
    maxAgeMs: 86_400_000,
    log: { info: (fields) => logged.push(fields), error: (fields) => logged.push({ error: fields }) },
  });
  assert.equal(result.temporaries, 1);
  assert.deepEqual(await storeTemporaries(path.join(h.dir, 'storage')), [current]);
  assert.deepEqual(logged, [{ sessions: 0, orphans: 0, failed: 0, temporaries: 1 }]);
});
