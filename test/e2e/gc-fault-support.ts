/**
 * What the GC fault tests (a process killed, the store or the database down) share: the admin
 * who starts runs, and the end state every outage must leave once the next run finished.
 */
import assert from 'node:assert/strict';
import type { BenchImage } from '../../bench/gc-data.js';
import type { GcReport } from '../../src/gc/report.js';
import { get, request } from '../fixtures/http.js';
import { sha256, type Image } from '../fixtures/images.js';
import { storageKeys, type WharfServer } from '../fixtures/server.js';

export const ADMIN = { username: 'root', password: 'root-password-1' };
export const adminEnv = { WHARF_ADMIN_USER: ADMIN.username, WHARF_ADMIN_PASSWORD: ADMIN.password };

/** POST /api/v1/gc with no grace: the answer, whatever it is. */
export function requestGcRun(srv: Pick<WharfServer, 'url'>) {
  return request('POST', `${srv.url}/api/v1/gc`, { auth: ADMIN, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ graceSeconds: 0 }) });
}

export async function startGcRun(srv: Pick<WharfServer, 'url'>): Promise<GcReport> {
  const started = await requestGcRun(srv);
  assert.equal(started.status, 202, started.text());
  return started.json<GcReport>();
}

/**
 * Everything referenced is there and verifies (the pushed `kept` image byte for byte, the first
 * tagged seeded images by manifest and HEAD); the store holds exactly the digests the database
 * `referenced`, and they are its `live` blob rows.
 */
export async function assertStoreHoldsExactlyTheReferences(
  srv: WharfServer,
  state: { kept: Image; keptRepository: string; images: BenchImage[]; referenced: Set<string>; live: number },
): Promise<void> {
  for (const [digest] of state.kept.blobs) {
    const blob = await get(`${srv.url}/v2/${state.keptRepository}/blobs/${digest}`, { auth: ADMIN });
    assert.equal(blob.status, 200);
    assert.equal(sha256(blob.body), digest);
  }
  for (const image of state.images.filter((i) => i.tag !== null).slice(0, 20)) {
    assert.equal((await request('GET', `${srv.url}/v2/${image.repository}/manifests/${image.tag}`, { auth: ADMIN, headers: { accept: image.mediaType } })).status, 200);
    for (const blob of image.blobs) assert.equal((await request('HEAD', `${srv.url}/v2/${image.repository}/blobs/${blob.digest}`, { auth: ADMIN })).status, 200);
  }
  const stored = new Set((await storageKeys(srv, 'blobs/')).map((key) => `sha256:${key.split('/').pop()}`));
  assert.deepEqual([...state.referenced].filter((d) => !stored.has(d)), [], 'nothing referenced is missing');
  assert.deepEqual([...stored].filter((d) => !state.referenced.has(d)), [], 'nothing unreferenced is left');
  assert.equal(state.referenced.size, state.live);
}
