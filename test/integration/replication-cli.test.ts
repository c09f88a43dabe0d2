/**
 * `wharf replicate` against the database of a running Wharf: a push rule created from a YAML file
 * with the target's password from standard input (stored sealed, never printed), a run queued and
 * followed with --wait while the server copies the image, the run list and its execution log, a
 * failing rule exiting 1 with its error, and input errors reported without a stack.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runWharf } from '../fixtures/cli.js';
import { get, pushImage } from '../fixtures/http.js';
import { MEDIA, ociImage, randomBlob, sha256 } from '../fixtures/images.js';
import { startWharf } from '../fixtures/server.js';
import { ADMIN, adminApi, startReplicatingWharf } from './replication-support.js';

const TARGET_ADMIN = { username: 'ops', password: 'cli-target-password' };

test('wharf replicate: create, run --wait, runs, log, show, delete', { timeout: 180_000 }, async (t) => {
  const target = await startWharf({ config: { auth: { mode: 'basic' } }, env: { WHARF_ADMIN_USER: TARGET_ADMIN.username, WHARF_ADMIN_PASSWORD: TARGET_ADMIN.password } });
  t.after(() => target.stop());
  const source = await startReplicatingWharf();
  t.after(() => source.stop());
  await adminApi(source).ok('POST', '/projects', { name: 'release' });
  const image = ociImage({ layers: [randomBlob(300_000), randomBlob(4_000)] });
  await pushImage(source.url, 'release/app', '2.0', image, { auth: ADMIN });

  const cli = (args: string[], input = '') => runWharf(['replicate', ...args, '--config', source.configPath], { input, timeoutMs: 120_000 });
  const ruleFile = path.join(source.tmpDir, 'rule.yml');
  await writeFile(ruleFile, `name: to-target\nkind: push\npush:\n  project: release\n  target:\n    url: ${target.url}\n  triggers: []\n`);

  const created = await cli(['create', '--file', ruleFile, '--username', TARGET_ADMIN.username], `${TARGET_ADMIN.password}\n`);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /push rule to-target created \(credentials stored encrypted\)/);
  const again = await cli(['create', '--file', ruleFile]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^wharf: a replication rule named to-target exists\n$/);

  const shown = await cli(['show', 'to-target']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(JSON.parse(shown.stdout).hasCredentials, true);
  assert.ok(!shown.stdout.includes(TARGET_ADMIN.password), 'the password is never printed');

  const run = await cli(['run', 'to-target', '--wait']);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const runId = /run ([0-9a-f-]{36}) of to-target queued/.exec(run.stdout)?.[1];
  assert.ok(runId, run.stdout);
  assert.match(run.stderr, /succeeded: 1\/1 images/, 'progress is followed to the end');
  assert.match(run.stdout, /\tsucceeded\tmanual\t/);
  const copied = await get(`${target.url}/v2/release/app/manifests/2.0`, { auth: TARGET_ADMIN, headers: { accept: MEDIA.ociManifest } });
  assert.equal(copied.status, 200);
  assert.equal(sha256(copied.body), image.manifest.digest, 'the server copied the image the CLI asked for');

  const runs = await cli(['runs', '--rule', 'to-target', '--json']);
  assert.equal(runs.code, 0, runs.stderr);
  assert.deepEqual(JSON.parse(runs.stdout).map((r: { id: string; status: string }) => [r.id, r.status]), [[runId, 'succeeded']]);
  const log = await cli(['log', runId]);
  assert.equal(log.code, 0, log.stderr);
  assert.match(log.stdout, new RegExp(`^release/app:2\\.0\\tdone\\t${image.manifest.digest}\\t`, 'm'));
  const listed = await cli(['list']);
  assert.match(listed.stdout, /^to-target\tpush\tenabled\tno schedule\trelease → http:\/\/127\.0\.0\.1:\d+\tlast run: succeeded$/m);

  // A rule whose target refuses the credentials: --wait exits 1 and prints the error.
  await writeFile(ruleFile, `name: refused\nkind: push\npush:\n  project: release\n  target:\n    url: ${target.url}\n  triggers: []\ncredentials:\n  username: ops\n  password: wrong-password\n`);
  assert.equal((await cli(['create', '--file', ruleFile])).code, 0);
  const refused = await cli(['run', 'refused', '--wait']);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stdout, /release\/app:2\.0\tfailed\t.*refused the credentials/);

  const bad = await cli(['create', '--file', ruleFile.replace('rule.yml', 'absent.yml')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^wharf: ENOENT/);
  await writeFile(ruleFile, 'name: Bad Name\nkind: push\n');
  const invalid = await cli(['create', '--file', ruleFile]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /^wharf: invalid rule: name: /);

  assert.equal((await cli(['delete', 'refused'])).code, 0);
  const gone = await cli(['show', 'refused']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no replication rule named refused/);
});
