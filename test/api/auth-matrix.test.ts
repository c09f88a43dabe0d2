/**
 * The role × action matrix: every subject (system admin, each project role, a robot, a non-member,
 * anonymous) against every registry and API action, in basic mode, must get exactly what the
 * policy table in docs/security.md says: 2xx, 401 UNAUTHORIZED or 403 DENIED.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { matrixActions, renderAnonymousTable, renderRolesTable, roleMatrix, roles, type MatrixActionKey } from '../../src/auth/policy.js';
import { del, get, pushImage, pushManifest, type Response } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { repoRoot } from '../fixtures/paths.js';
import { startWharfFor } from '../fixtures/server.js';
import { ADMIN, adminEnv, api, apiOk, type Creds } from './auth-support.js';
import { assertError } from './support.js';

test('docs/security.md holds the roles tables generated from the policy', async () => {
  const doc = await readFile(path.join(repoRoot, 'docs', 'security.md'), 'utf8');
  assert.ok(doc.includes(renderRolesTable(false)), 'private-project table is out of date: regenerate it from renderRolesTable()');
  assert.ok(doc.includes(renderRolesTable(true)), 'public-project table is out of date');
  assert.ok(doc.includes(renderAnonymousTable()), 'the threat model\'s anonymous table is out of date');
});

test('role × action matrix in basic mode', async (t) => {
  const srv = await startWharfFor(t, { config: { auth: { mode: 'basic' } }, env: adminEnv });
  const url = srv.url;
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  const creds = new Map<string, Creds | undefined>([['systemAdmin', ADMIN], ['anonymous', undefined]]);
  for (const role of roles) {
    const user = { username: `u-${role}`, password: `pw-${role}-12345` };
    await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: user.username, password: user.password } });
    await apiOk(url, 'PUT', `/projects/team/members/${user.username}`, { auth: ADMIN, body: { role } });
    creds.set(role, user);
  }
  const other = { username: 'other', password: 'other-password' };
  await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: other.username, password: other.password } });
  await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: 'spare', password: 'spare-password' } });
  creds.set('nonMember', other);
  const robot = await apiOk<{ robot: { name: string }; secret: string }>(url, 'POST', '/projects/team/robots', { auth: ADMIN, body: { name: 'ci', actions: ['pull', 'push'] } });
  assert.equal(robot.robot.name, 'robot$team+ci');
  creds.set('robotPullPush', { username: robot.robot.name, password: robot.secret });

  const image = ociImage();
  await pushImage(url, 'team/app', 'v1', image, { auth: ADMIN });
  // One manifest per subject to delete (distinct annotations, same blobs).
  const victims = new Map<string, ReturnType<typeof ociImage>>();
  for (const key of creds.keys()) {
    const victim = ociImage({ layers: [image.layers[0]!.bytes], annotations: { victim: key } });
    victims.set(key, victim);
    await pushImage(url, 'team/app', `victim-${key}`, victim, { auth: ADMIN });
  }

  const actions: Record<MatrixActionKey, (who: Creds | undefined, key: string) => Promise<Response>> = {
    pull: (who) => get(`${url}/v2/team/app/manifests/v1`, { ...(who ? { auth: who } : {}), headers: { accept: image.manifest.mediaType } }),
    push: (who, key) => pushManifest(url, 'team/app', `pushed-${key}`, image.manifest, who ? { auth: who } : {}),
    delete: (who, key) => del(`${url}/v2/team/app/manifests/${victims.get(key)!.manifest.digest}`, who ? { auth: who } : {}),
    promote: (who, key) =>
      api(url, 'POST', '/promotions', { ...(who ? { auth: who } : {}), body: { source: { repository: 'team/app', reference: 'v1' }, target: { repository: 'team/app', tag: `promoted-${key}` } } }),
    tagList: (who) => get(`${url}/v2/team/app/tags/list`, who ? { auth: who } : {}),
    catalog: (who) => get(`${url}/v2/_catalog`, who ? { auth: who } : {}),
    readMembers: (who) => api(url, 'GET', '/projects/team/members', who ? { auth: who } : {}),
    manageMembers: (who) => api(url, 'PUT', '/projects/team/members/spare', { ...(who ? { auth: who } : {}), body: { role: 'guest' } }),
    manageRobots: (who) => api(url, 'GET', '/projects/team/robots', who ? { auth: who } : {}),
    manageWebhooks: (who) => api(url, 'GET', '/webhooks?project=team', who ? { auth: who } : {}),
    readAudit: (who) => api(url, 'GET', '/audit?project=team', who ? { auth: who } : {}),
    createProject: (who, key) => api(url, 'POST', '/projects', { ...(who ? { auth: who } : {}), body: { name: `made-by-${key.toLowerCase()}` } }),
    manageUsers: (who) => api(url, 'GET', '/users', who ? { auth: who } : {}),
    manageReplication: (who) => api(url, 'GET', '/replication/rules', who ? { auth: who } : {}),
    manageStorage: (who) => api(url, 'GET', '/gc', who ? { auth: who } : {}),
  };

  const V2_ACTIONS = new Set<MatrixActionKey>(['pull', 'push', 'delete', 'tagList', 'catalog']);
  const checkRow = async (row: ReturnType<typeof roleMatrix>[number], only?: MatrixActionKey[]) => {
    for (const action of matrixActions) {
      if (only && !only.includes(action.key)) continue;
      const who = creds.get(row.subject);
      const res = await actions[action.key](who, row.subject);
      const what = `${row.label} × ${action.label}`;
      const expected = row.cells[action.key];
      if (expected === 'allow') assert.ok(res.status >= 200 && res.status < 300, `${what}: expected success, got ${res.status} ${res.text().slice(0, 200)}`);
      else if (expected === 'unauthorized') {
        assertError(res, 401, 'UNAUTHORIZED', what);
        if (V2_ACTIONS.has(action.key)) assert.match(String(res.headers['www-authenticate']), /^Basic realm="/);
      } else assertError(res, 403, 'DENIED', what);
    }
  };
  for (const row of roleMatrix(false)) await checkRow(row);

  // The catalog shows only what the caller may pull.
  const otherCatalog = (await get(`${url}/v2/_catalog`, { auth: other })).json<{ repositories: string[] }>();
  assert.deepEqual(otherCatalog.repositories, []);
  const guestCatalog = (await get(`${url}/v2/_catalog`, { auth: creds.get('guest')! })).json<{ repositories: string[] }>();
  assert.deepEqual(guestCatalog.repositories, ['team/app']);

  // Public: anonymous and non-members may pull and list tags.
  await apiOk(url, 'PATCH', '/projects/team', { auth: ADMIN, body: { public: true } });
  for (const row of roleMatrix(true).filter((r) => r.subject === 'anonymous' || r.subject === 'nonMember')) {
    await checkRow(row, ['pull', 'tagList', 'push']);
  }
  const anonymousPull = await get(`${url}/v2/team/app/manifests/v1`, { headers: { authorization: 'Basic Og==', accept: image.manifest.mediaType } });
  assert.equal(anonymousPull.status, 200, 'empty Basic credentials are anonymous: a public pull works');
  assertError(await get(`${url}/v2/`, { headers: { authorization: 'Basic Og==' } }), 401, 'UNAUTHORIZED', 'Og== on /v2/');

  // Pushing to a project that does not exist: a system admin creates it (private), others are denied.
  assertError(await pushManifest(url, 'newproj/app', 'v1', image.manifest, { auth: creds.get('developer')! }), 403, 'DENIED', 'developer push to a missing project');
  await pushImage(url, 'newproj/app', 'v1', image, { auth: ADMIN });
  const created = await apiOk<{ public: boolean }>(url, 'GET', '/projects/newproj', { auth: ADMIN });
  assert.equal(created.public, false);
});
