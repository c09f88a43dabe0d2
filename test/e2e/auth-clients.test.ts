/**
 * Token mode with real clients: `skopeo login` / `podman login` then push and pull, as a user and
 * as a robot account; anonymous pull of a public project; a refused push to a project the user is
 * not a member of.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ADMIN, adminEnv, apiOk } from '../api/auth-support.js';
import { createClientEnvFor, missingClients } from '../fixtures/clients.js';
import { makeTestImages } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';

test('token auth with skopeo and podman: users, robots, public and refused projects', { skip: missingClients('skopeo', 'podman') }, async (t) => {
  const srv = await startWharfFor(t, { config: { auth: { mode: 'token' } }, env: adminEnv });
  const { url, host } = srv;
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'pub', public: true } });
  await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: 'dev', password: 'dev-password-1' } });
  await apiOk(url, 'PUT', '/projects/team/members/dev', { auth: ADMIN, body: { role: 'developer' } });
  const robot = await apiOk<{ robot: { name: string }; secret: string }>(url, 'POST', '/projects/team/robots', { auth: ADMIN, body: { name: 'ci', actions: ['pull', 'push'] } });

  const c = await createClientEnvFor(t, { registries: [host] });
  const layout = await makeTestImages(path.join(c.dir, 'layout'), 2048);

  // A user: skopeo login, push, pull.
  const login = await c.skopeo(['login', '--tls-verify=false', '-u', 'dev', '--password-stdin', host], { input: 'dev-password-1\n' });
  assert.match(login.stdout, /Login Succeeded/);
  await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${host}/team/app:v1`]);
  await c.skopeo(['copy', `docker://${host}/team/app:v1`, `oci:${path.join(c.dir, 'out')}:v1`]);
  const tags = JSON.parse((await c.skopeo(['list-tags', `docker://${host}/team/app`])).stdout) as { Tags: string[] };
  assert.deepEqual(tags.Tags, ['v1']);

  // Refused: a project dev is not a member of (public or missing).
  for (const target of ['pub/app:v1', 'other/app:v1']) {
    const refused = await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${host}/${target}`], { allowFailure: true });
    assert.notEqual(refused.code, 0, `${target}: ${refused.stderr}`);
    assert.match(refused.stderr, /denied|unauthorized|forbidden/i, `${target}: ${refused.stderr}`);
  }
  const wrong = await c.skopeo(['login', '--tls-verify=false', '-u', 'dev', '--password-stdin', host], { input: 'wrong-password\n', allowFailure: true });
  assert.notEqual(wrong.code, 0);

  // A robot: podman login, pull, push under another tag.
  await c.skopeo(['logout', host]);
  const robotLogin = await c.podman(['login', '--tls-verify=false', '-u', robot.robot.name, '--password-stdin', host], { input: `${robot.secret}\n` });
  assert.match(robotLogin.stdout, /Login Succeeded/);
  await c.podman(['pull', '-q', '--tls-verify=false', `${host}/team/app:v1`]);
  await c.podman(['push', '--tls-verify=false', `${host}/team/app:v1`, `docker://${host}/team/app:robot`]);
  const afterRobot = JSON.parse((await c.skopeo(['list-tags', `docker://${host}/team/app`])).stdout) as { Tags: string[] };
  assert.deepEqual(afterRobot.Tags.sort(), ['robot', 'v1']);
  await c.podman(['logout', host]);

  // Anonymous: pull of a public project works, of a private one does not.
  await c.skopeo(['copy', `--dest-creds=${ADMIN.username}:${ADMIN.password}`, `oci:${layout}:arm64`, `docker://${host}/pub/base:v1`]);
  await c.skopeo(['copy', `docker://${host}/pub/base:v1`, `oci:${path.join(c.dir, 'anon')}:v1`]);
  const privatePull = await c.skopeo(['copy', `docker://${host}/team/app:v1`, `oci:${path.join(c.dir, 'anon2')}:v1`], { allowFailure: true });
  assert.notEqual(privatePull.code, 0);
  assert.match(privatePull.stderr, /unauthorized|authentication required|denied/i);

  // The audit log saw the robot's push and the anonymous pull.
  const audit = await apiOk<{ events: Array<{ actor: string; action: string; repository: string; reference: string | null }> }>(url, 'GET', '/audit?action=push,pull', { auth: ADMIN });
  assert.ok(audit.events.some((e) => e.actor === robot.robot.name && e.action === 'push' && e.reference === 'robot'));
  assert.ok(audit.events.some((e) => e.actor === 'anonymous' && e.action === 'pull' && e.repository === 'pub/base'));
});
