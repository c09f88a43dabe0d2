/**
 * Quotas with real clients: skopeo and podman print the refusal (naming the quota and the usage);
 * two concurrent pushes cannot together go past it; the usage shown by the API is exact after a
 * delete and GC; reaching 80 % is in the audit log.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import type { GcReport } from '../../src/gc/report.js';
import { createClientEnv, missingClients } from '../fixtures/clients.js';
import { request } from '../fixtures/http.js';
import { makeTestImages } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor, type WharfServer } from '../fixtures/server.js';

interface Quota {
  limitBytes: number | null;
  usedBytes: number;
}

const ADMIN = { username: 'root', password: 'root-password-1' };

/** The API as a system admin (an open registry still needs one for quotas and GC). */
async function api<T>(srv: WharfServer, method: string, apiPath: string, body?: unknown): Promise<T> {
  const res = await request(method, `${srv.url}/api/v1${apiPath}`, { auth: ADMIN, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  assert.ok(res.status < 300, `${method} ${apiPath}: ${res.status} ${res.text()}`);
  return res.json<T>();
}

describe('quotas with skopeo and podman', { skip: missingClients('skopeo', 'podman') }, () => {
  test('the refusal names the quota and the usage; concurrent pushes stay under it; usage is exact after delete + GC', async (t) => {
    const srv = await startWharfFor(t, { config: { gc: { schedule: 'off', untaggedGraceHours: 0 } }, env: { WHARF_ADMIN_USER: ADMIN.username, WHARF_ADMIN_PASSWORD: ADMIN.password } });
    const c = await createClientEnv({ registries: [srv.host] });
    t.after(() => c.cleanup());
    const dir = await makeTempDir('wharf-quota-');
    t.after(() => removeDir(dir));
    const [one, two, three] = await Promise.all(['one', 'two', 'three'].map((name) => makeTestImages(path.join(dir, name), 20_000)));
    const push = (source: string, ref: string) => c.skopeo(['copy', '--dest-tls-verify=false', source, `docker://${srv.host}/${ref}`], { allowFailure: true });
    const db = new SQLite(path.join(srv.dataDir, 'wharf.db'), { readonly: true });
    t.after(() => db.close());
    const recount = () =>
      Number(
        (db.prepare(`select sum(b.size) as n from blobs b where b.digest in (
          select digest from repository_blobs where repository like 'q/%' union select digest from manifests where repository like 'q/%')`).get() as { n: number | null }).n ?? 0,
      );

    assert.equal((await push(`oci:${one}:amd64`, 'q/app:v1')).code, 0);
    const first = await api<Quota>(srv, 'GET', '/projects/q/quota');
    assert.equal(first.limitBytes, null);
    assert.equal(first.usedBytes, recount());

    // Room for about one more image (~20 kB of layer each): the next push goes, the one after is refused.
    await api(srv, 'PUT', '/projects/q/quota', { limitBytes: first.usedBytes + 30_000 });
    assert.equal((await push(`oci:${one}:arm64`, 'q/app:v2')).code, 0);
    const refused = await push(`oci:${two}:amd64`, 'q/app:v3');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /denied: quota exceeded: project q is limited to [\d.]+ KiB and uses [\d.]+ KiB; this push needs [\d.]+ KiB more/);
    await c.skopeo(['copy', `oci:${two}:arm64`, 'containers-storage:localhost/quota-two:arm64']);
    const podman = await c.podman(['push', '--tls-verify=false', 'localhost/quota-two:arm64', `${srv.host}/q/app:v4`], { allowFailure: true });
    assert.notEqual(podman.code, 0);
    assert.match(podman.stderr, /quota exceeded: project q is limited to/);
    const full = await api<Quota>(srv, 'GET', '/projects/q/quota');
    assert.ok(full.usedBytes <= full.limitBytes!, 'refused pushes left nothing counted');
    assert.equal(full.usedBytes, recount());

    // Two pushes at once, each of which would fit alone: they cannot both get in.
    await api(srv, 'PUT', '/projects/q/quota', { limitBytes: full.usedBytes + 30_000 });
    const racing = await Promise.all([push(`oci:${two}:amd64`, 'q/race:a'), push(`oci:${three}:amd64`, 'q/race:b')]);
    assert.ok(racing.some((r) => r.code !== 0), 'at most one of two fits');
    const raced = await api<Quota>(srv, 'GET', '/projects/q/quota');
    assert.ok(raced.usedBytes <= raced.limitBytes!, `${raced.usedBytes} <= ${raced.limitBytes}`);
    assert.equal(raced.usedBytes, recount());

    // Delete an image, collect: usage is what is still referenced, to the byte.
    assert.equal((await c.skopeo(['delete', '--tls-verify=false', `docker://${srv.host}/q/app:v1`])).code, 0);
    const started = await api<GcReport>(srv, 'POST', '/gc', { graceSeconds: 0 });
    let report = started;
    while (report.status === 'running') {
      await sleep(100);
      report = await api<GcReport>(srv, 'GET', `/gc/runs/${started.id}`);
    }
    assert.equal(report.status, 'finished');
    const after = await api<Quota>(srv, 'GET', '/projects/q/quota');
    assert.equal(after.usedBytes, recount());
    assert.ok(after.usedBytes < raced.usedBytes);

    const audit = await api<{ events: Array<{ project: string; detail: { quotaBytes: number; percent: number } }> }>(srv, 'GET', '/audit?action=quota.warning');
    assert.ok(audit.events.length >= 1);
    assert.ok(audit.events.every((e) => e.project === 'q' && e.detail.percent >= 80));
  });
});
