/**
 * Retention with skopeo: one project per rule (newest N, keep/drop patterns, age, not pulled),
 * policies set through the API and `wharf project policy`, push and pull times injected in the
 * database. The dry run lists exactly the tags the real run removes; images only those tags held
 * are gone, the others still pull.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import type { GcReport } from '../../src/gc/report.js';
import { runWharf } from '../fixtures/cli.js';
import { createClientEnv, missingClients, type ClientEnv } from '../fixtures/clients.js';
import { request } from '../fixtures/http.js';
import { makeTestImages } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor, type WharfServer } from '../fixtures/server.js';

const DAY = 86_400_000;

async function gc(srv: WharfServer, ...args: string[]): Promise<GcReport> {
  const result = await runWharf(['gc', '--config', srv.configPath, '--json', '--grace', '0', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as GcReport;
}

describe('retention policies with skopeo', { skip: missingClients('skopeo') }, () => {
  test('each rule removes exactly the tags the dry run listed; what they held goes, the rest pulls', async (t) => {
    const admin = { username: 'root', password: 'root-password-1' };
    const srv = await startWharfFor(t, { config: { gc: { schedule: 'off', untaggedGraceHours: 0 } }, env: { WHARF_ADMIN_USER: admin.username, WHARF_ADMIN_PASSWORD: admin.password } });
    const c: ClientEnv = await createClientEnv({ registries: [srv.host] });
    t.after(() => c.cleanup());
    const dir = await makeTempDir('wharf-retention-');
    t.after(() => removeDir(dir));
    // Six distinct images: amd64 and arm64 of three layouts.
    const layouts = await Promise.all([0, 1, 2].map((i) => makeTestImages(path.join(dir, `l${i}`), 1024)));
    const images = layouts.flatMap((layout) => [`oci:${layout}:amd64`, `oci:${layout}:arm64`]);
    const push = (source: string, ref: string) => c.skopeo(['copy', '--dest-tls-verify=false', source, `docker://${srv.host}/${ref}`]);
    const exists = async (ref: string) => (await c.skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/${ref}`], { allowFailure: true })).code === 0;

    const scenarios: Record<string, string[]> = {
      'latest/app': ['a1', 'a2', 'a3', 'a4'],
      'patterns/app': ['v1.0', 'v2-rc', 'pr-7', 'main'],
      'aged/app': ['old', 'fresh'],
      'pulled/app': ['hot', 'cold', 'never', 'newish'],
    };
    for (const [repository, tags] of Object.entries(scenarios)) {
      for (const [i, name] of tags.entries()) await push(images[i]!, `${repository}:${name}`);
    }

    const db = new SQLite(path.join(srv.dataDir, 'wharf.db'));
    t.after(() => db.close());
    const now = Date.now();
    const pushedAt = db.prepare('update tags set updated_at = ? where repository = ? and name = ?');
    const pulledAt = db.prepare('update manifests set last_pulled_at = ? where repository = ? and digest = (select digest from tags where repository = ? and name = ?)');
    for (const [i, name] of ['a1', 'a2', 'a3', 'a4'].entries()) pushedAt.run(now - (5 - i) * 3_600_000, 'latest/app', name);
    pushedAt.run(now - 40 * DAY, 'aged/app', 'old');
    for (const name of ['hot', 'cold', 'never']) pushedAt.run(now - 20 * DAY, 'pulled/app', name);
    pulledAt.run(now - DAY, 'pulled/app', 'pulled/app', 'hot');
    pulledAt.run(now - 10 * DAY, 'pulled/app', 'pulled/app', 'cold');

    const put = async (project: string, policy: unknown) => {
      const res = await request('PUT', `${srv.url}/api/v1/projects/${project}/policy`, { auth: admin, headers: { 'content-type': 'application/json' }, body: JSON.stringify(policy) });
      assert.equal(res.status, 200, res.text());
    };
    await put('latest', { retention: { keepLatest: 2 } });
    await put('aged', { retention: { maxAgeDays: 30 } });
    await put('pulled', { retention: { unpulledDays: 7 } });
    const cli = await runWharf(['project', 'policy', 'set', 'patterns', '--config', srv.configPath, '--keep', 'v*', '--drop', '*-rc', '--drop', 'pr-*']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /always keep tags matching v\*\nremove tags matching \*-rc, pr-\*/);
    const shown = await runWharf(['project', 'policy', 'show', 'patterns', '--config', srv.configPath, '--json']);
    assert.deepEqual(JSON.parse(shown.stdout), { retention: { keepPatterns: ['v*'], dropPatterns: ['*-rc', 'pr-*'] }, deleteUntagged: true });

    const expected = ['latest/app:a1 beyond-latest', 'latest/app:a2 beyond-latest', 'patterns/app:pr-7 drop-pattern', 'aged/app:old too-old', 'pulled/app:cold unpulled', 'pulled/app:never unpulled'].sort();
    const tagsOf = (report: GcReport) => (report.items?.tags ?? []).map((x) => `${x.repository}:${x.tag} ${x.reason}`).sort();
    const planned = await gc(srv, '--dry-run');
    assert.deepEqual(tagsOf(planned), expected);
    const done = await gc(srv);
    assert.deepEqual(tagsOf(done), expected);
    assert.equal(done.manifests, planned.manifests);
    assert.ok(done.manifests >= 6, 'the images only those tags held are gone too');

    for (const line of expected) assert.equal(await exists(line.split(' ')[0]!), false, `${line} is gone`);
    await mkdir(path.join(dir, 'out'));
    const kept = ['latest/app:a3', 'latest/app:a4', 'patterns/app:v1.0', 'patterns/app:v2-rc', 'patterns/app:main', 'aged/app:fresh', 'pulled/app:hot', 'pulled/app:newish'];
    for (const ref of kept) {
      const out = path.join(dir, 'out', ref.replace(/[/:]/g, '-'));
      await c.skopeo(['copy', '--src-tls-verify=false', `docker://${srv.host}/${ref}`, `dir:${out}`]);
    }
    assert.equal((await gc(srv, '--dry-run')).tags, 0, 'a second run has nothing left to remove');
  });
});
