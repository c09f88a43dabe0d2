/**
 * Manifest PUTs cut by SIGKILL: Wharf is killed while two clients push distinct manifests. On the
 * filesystem store their bytes are staged beside the checks and placed during the transaction
 * when no other is open, else before it (src/registry/manifests.ts); two clients make PUTs take
 * both paths. (A build that committed before placing failed here: a listed tag that did not
 * pull.) The files of the manifests still in the placement journal (not yet flushed) are then
 * deleted, the worst a power loss could do to them. After a restart on the same data, every PUT
 * that was answered 201 is there, by tag and by digest, with its exact bytes; every tag the
 * registry lists pulls (no manifest recorded without its bytes); and pushes go on.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { get, pushImage, pushManifest } from '../fixtures/http.js';
import { doc, ociImage, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf, startWharfFor } from '../fixtures/server.js';

const REPO = 'crash/app';
const CLIENTS = 2;

test('SIGKILL during concurrent manifest PUTs: every answered PUT survives, every listed tag pulls, pushes go on', { timeout: 120_000 }, async (t) => {
  const dataDir = await makeTempDir('wharf-put-crash-');
  t.after(() => removeDir(dataDir));
  const base = ociImage();
  const first = await startWharf({ dataDir });
  t.after(() => first.stop('SIGKILL'));
  await pushImage(first.url, REPO, 'base', base);

  // Distinct manifests over the same blobs: an annotation makes each one its own digest.
  const manifestFor = (n: number) => doc(base.manifest.mediaType, { ...base.manifest.json, annotations: { n: String(n) } });
  const answered = new Map<string, string>(); // tag -> digest, for every 201
  let next = 0;
  let killed = false;
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (!killed) {
      const n = next++;
      const manifest = manifestFor(n);
      const response = await pushManifest(first.url, REPO, `t${n}`, manifest).catch(() => undefined);
      if (response?.status === 201) {
        assert.equal(response.headers['docker-content-digest'], manifest.digest);
        answered.set(`t${n}`, manifest.digest);
      }
    }
  });
  for (let waited = 0; answered.size < 150 && waited < 30_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(answered.size >= 150, `only ${answered.size} PUTs answered before the kill`);
  killed = true;
  const stopped = await first.stop('SIGKILL');
  assert.equal(stopped.signal, 'SIGKILL');
  await Promise.all(clients);
  const sent = next;
  t.diagnostic(`${answered.size} of ${sent} PUTs answered 201 before SIGKILL`);
  assert.ok(sent > answered.size, 'some PUTs were in flight when the server died');

  // What a power loss could take: the files not yet flushed, those whose entries are journaled.
  const db = new SQLite(path.join(dataDir, 'wharf.db'), { readonly: true });
  const journaled = (db.prepare('select distinct digest from placement_journal').all() as Array<{ digest: string }>).map((row) => row.digest);
  db.close();
  for (const digest of journaled) await rm(path.join(dataDir, 'storage', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)), { force: true });
  t.diagnostic(`${journaled.length} manifests journaled at the kill; their files deleted`);

  const second = await startWharfFor(t, { dataDir });
  for (const [tag, digest] of answered) {
    const byTag = await get(`${second.url}/v2/${REPO}/manifests/${tag}`, { headers: { accept: base.manifest.mediaType } });
    assert.equal(byTag.status, 200, `answered ${tag} lost`);
    assert.equal(sha256(byTag.body), digest, `${tag} has other bytes`);
    assert.equal((await get(`${second.url}/v2/${REPO}/manifests/${digest}`, { headers: { accept: base.manifest.mediaType } })).status, 200);
  }
  const listed = (await get(`${second.url}/v2/${REPO}/tags/list?n=10000`)).json() as { tags: string[] };
  for (const tag of listed.tags) {
    const pulled = await get(`${second.url}/v2/${REPO}/manifests/${tag}`, { headers: { accept: base.manifest.mediaType } });
    assert.equal(pulled.status, 200, `${tag} is listed but does not pull`);
    if (tag !== 'base') assert.equal(sha256(pulled.body), manifestFor(Number(tag.slice(1))).digest);
  }
  assert.ok(listed.tags.length >= answered.size + 1, 'the answered tags are listed');

  const after = manifestFor(sent);
  assert.equal((await pushManifest(second.url, REPO, 'after', after)).status, 201);
  assert.equal(sha256((await get(`${second.url}/v2/${REPO}/manifests/after`, { headers: { accept: base.manifest.mediaType } })).body), after.digest);
});
