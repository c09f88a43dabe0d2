/**
 * `wharf gc` beside a running server on the same data, with skopeo: the dry run lists exactly what
 * the real run then removes, the store shrinks by the bytes reported, the images still tagged pull
 * and verify, and the server answered throughout.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { GcReport } from '../../src/gc/report.js';
import { runWharf } from '../fixtures/cli.js';
import { createClientEnv, missingClients } from '../fixtures/clients.js';
import { get } from '../fixtures/http.js';
import { makeTestImages } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor, storageKeys, type WharfServer } from '../fixtures/server.js';

async function storeBytes(srv: WharfServer): Promise<number> {
  let total = 0;
  for (const key of await storageKeys(srv)) total += (await stat(path.join(srv.dataDir, 'storage', key))).size;
  return total;
}

async function gc(srv: WharfServer, ...args: string[]): Promise<GcReport> {
  const result = await runWharf(['gc', '--config', srv.configPath, '--json', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as GcReport;
}

const sorted = (report: GcReport) =>
  Object.fromEntries(Object.entries(report.items ?? {}).map(([kind, list]) => [kind, (list as unknown[]).map((x) => JSON.stringify(x)).sort()]));

describe('wharf gc beside a running server', { skip: missingClients('skopeo') }, () => {
  test('dry run, then the real run: the same items, the bytes the store shrank by; tagged images still pull', async (t) => {
    const srv = await startWharfFor(t, { config: { gc: { schedule: 'off', untaggedGraceHours: 0 } } });
    const c = await createClientEnv({ registries: [srv.host] });
    t.after(() => c.cleanup());
    const dir = await makeTempDir('wharf-gc-cli-');
    t.after(() => removeDir(dir));
    const first = await makeTestImages(path.join(dir, 'first'), 4096);
    const second = await makeTestImages(path.join(dir, 'second'), 4096);
    const to = (ref: string) => `docker://${srv.host}/${ref}`;
    await c.skopeo(['copy', '--dest-tls-verify=false', `oci:${first}:amd64`, to('team/app:v1')]);
    await c.skopeo(['copy', '--dest-tls-verify=false', `oci:${second}:amd64`, to('team/app:v1')]);
    await c.skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${first}:multi`, to('team/multi:v1')]);
    await c.skopeo(['delete', '--tls-verify=false', to('team/multi:v1')]);

    const planned = await gc(srv, '--dry-run', '--grace', '0');
    assert.equal(planned.dryRun, true);
    assert.ok(planned.manifests >= 3, `the old image and the deleted index with its children: ${planned.manifests}`);
    const before = await storeBytes(srv);
    const pinging = (async () => {
      for (let i = 0; i < 20; i++) assert.equal((await get(`${srv.url}/v2/`)).status, 200);
    })();
    const done = await gc(srv, '--grace', '0');
    await pinging;
    assert.deepEqual(sorted(done), sorted(planned));
    assert.equal(await storeBytes(srv), before - done.bytesFreed);

    const out = path.join(dir, 'pulled');
    await c.skopeo(['copy', '--src-tls-verify=false', to('team/app:v1'), `oci:${out}:v1`]);
    const text = await runWharf(['gc', '--config', srv.configPath, '--dry-run', '--grace', '0']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^gc dry run finished in [\d.]+ s: would remove 0 tags, 0 manifests, 0 links, 0 blobs/);
  });
});
