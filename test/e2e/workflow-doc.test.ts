/**
 * docs/workflow.md, tested as written: every ```sh block of the document runs, in order, in one
 * bash session against a fresh Wharf (skopeo and the `wharf` CLI on the PATH, layouts the
 * document assumes prepared here), and each must succeed — the refusals it shows are checked by
 * the greps written in the document. Then the base.updated webhook the document subscribes is
 * checked: signed with the secret the document printed, naming apps/billing.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ADMIN, adminEnv } from '../api/auth-support.js';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { head } from '../fixtures/http.js';
import { makeTestImages, ociImage, randomBlob } from '../fixtures/images.js';
import { repoRoot } from '../fixtures/paths.js';
import { startWharfFor } from '../fixtures/server.js';
import { startReceiver } from '../fixtures/webhook-receiver.js';
import { webhookTestConfig } from '../integration/webhook-support.js';
import { writeOciLayout } from './console-support.js';

/** The ```sh blocks of a Markdown text, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

test('docs/workflow.md: the dev → QA → release flow and the base-image story, run as written', { skip: missingClients('skopeo'), timeout: 300_000 }, async (t) => {
  const blocks = shellBlocks(await readFile(path.join(repoRoot, 'docs', 'workflow.md'), 'utf8'));
  assert.ok(blocks.length >= 10, `the document has its command blocks (${blocks.length})`);
  const srv = await startWharfFor(t, { config: webhookTestConfig, env: adminEnv });
  const c = await createClientEnvFor(t, { registries: [srv.host] });
  const rx = await startReceiver(t);

  // What the document assumes a build produced.
  const work = path.join(c.dir, 'work');
  await makeTestImages(path.join(work, 'app-layout'), 2048);
  const jdk8 = ociImage({ layers: [randomBlob(2000), randomBlob(3000)] });
  const billing = ociImage({ layers: [...jdk8.layers.map((l) => l.bytes), randomBlob(1000)] });
  const jdk8u2 = ociImage({ layers: [jdk8.layers[0]!.bytes, randomBlob(3000)] });
  await writeOciLayout(path.join(work, 'jdk8-layout'), { latest: jdk8 });
  await writeOciLayout(path.join(work, 'billing-layout'), { latest: billing });
  await writeOciLayout(path.join(work, 'jdk8u2-layout'), { latest: jdk8u2 });
  const bin = path.join(c.dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'wharf'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(repoRoot, 'bin', 'wharf')}" "$@"\n`);
  await chmod(path.join(bin, 'wharf'), 0o755);

  // skopeo with this test's private configuration (the registry is marked insecure there).
  const prelude = `skopeo() { command skopeo --registries-conf "${c.registriesConf}" --policy "${c.policyPath}" --registries.d "${c.registriesD}" --tmpdir "${path.join(c.dir, 'tmp')}" "$@"; }\n`;
  const script = prelude + blocks.map((block, i) => `${block}\nprintf '\\n::block ${i} done\\n'\n`).join('');
  const run = await c.run('bash', ['-e', '-c', script], {
    cwd: work,
    env: { REGISTRY: srv.host, WHARF_URL: srv.url, ADMIN: `${ADMIN.username}:${ADMIN.password}`, RECEIVER_URL: rx.url('/doc'), PATH: `${bin}:${process.env.PATH}` },
    allowFailure: true,
    timeoutMs: 240_000,
  });
  const done = [...run.stdout.matchAll(/^::block (\d+) done$/gm)].length;
  assert.equal(run.code, 0, `block ${done} of docs/workflow.md failed:\n${blocks[done] ?? ''}\nstdout: ${run.stdout.slice(-3000)}\nstderr: ${run.stderr.slice(-3000)}`);
  assert.equal(done, blocks.length);

  // What the document says the commands print.
  assert.match(run.stdout, /promoted dev\/app:1\.0 to qa\/app:1\.0 \(sha256:[0-9a-f]{64}\): 3 manifest\(s\), 0 referrer\(s\), 4 blob\(s\) linked, no bytes copied/);
  assert.match(run.stdout, /"action":"pushed","actor":"alice","repository":"dev\/app"\n"action":"promoted","actor":"bob","repository":"qa\/app"\n"action":"promoted","actor":"carol","repository":"release\/app"/);
  const pushed = [...run.stdout.matchAll(/^([0-9a-f]{64}) {2}-$/gm)].map((m) => m[1]);
  assert.equal(pushed.length, 2);
  assert.equal(pushed[0], pushed[1], 'release/app:1.0 has the digest alice pushed');
  assert.match(run.stdout, /apps\/billing:2\.4 sha256:[0-9a-f]{64}\nbuilt on:\n {2}base\/jdk:8 sha256:[0-9a-f]{12} \(layers\)\nused by: nothing/);
  assert.match(run.stdout, /apps\/billing:2\.4 sha256:[0-9a-f]{64} {2}STALE\n {2}base\/jdk sha256:[0-9a-f]{12} \(layers\) {2}\[moved on: base\/jdk:8 now points at sha256:/);

  const secret = /"secret":"([^"]+)"/.exec(run.stdout)?.[1];
  assert.ok(secret, 'the subscription printed its secret');
  await rx.waitFor((all) => all.some((r) => r.type === 'base.updated'), 20_000, 'the base.updated delivery');
  const event = rx.received.find((r) => r.type === 'base.updated')!;
  assert.equal(event.headers['x-wharf-signature-256'], `sha256=${createHmac('sha256', secret).update(event.body).digest('hex')}`);
  const data = (event.json as { data: { repository: string; tag: string; staleDependents: Array<{ repository: string; digest: string; tags: string[] }> } }).data;
  assert.deepEqual([data.repository, data.tag], ['base/jdk', '8']);
  // skopeo may rewrite a manifest it copies: the digest is the one Wharf holds.
  const held = await head(`${srv.url}/v2/apps/billing/manifests/2.4`, { auth: ADMIN, headers: { accept: billing.manifest.mediaType } });
  assert.deepEqual(data.staleDependents, [{ repository: 'apps/billing', digest: String(held.headers['docker-content-digest']), tags: ['2.4'] }]);
});
