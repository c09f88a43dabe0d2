/**
 * No anonymous caller creates or changes an account, in any auth mode: every /api/v1 route that
 * grants or changes access (users, passwords, admin flags, projects and their visibility, members,
 * robots, tokens) answers 401 to an anonymous caller and changes nothing. In `none` mode images
 * stay open to everyone and a signed-in admin still manages accounts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authModes } from '../../src/config/index.js';
import { get, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { startWharfFor } from '../fixtures/server.js';
import { ADMIN, adminEnv, api, apiOk, type Creds } from './auth-support.js';
import { assertError } from './support.js';

const ALICE: Creds = { username: 'alice', password: 'alice-password-1' };

/** Every route that grants or changes access, and the reads that list who has it. */
const routes: Array<[method: string, path: string, body?: unknown]> = [
  ['POST', '/users', { name: 'mallory', password: 'mallory-password', admin: true }],
  ['PATCH', '/users/alice', { admin: true }],
  ['PUT', '/users/alice/password', { password: 'taken-over-pw' }],
  ['PUT', `/users/${ADMIN.username}/password`, { password: 'taken-over-pw', currentPassword: 'wrong-guess-1' }],
  ['DELETE', '/users/alice'],
  ['POST', '/projects', { name: 'planted', public: true }],
  ['PATCH', '/projects/team', { public: true }],
  ['DELETE', '/projects/team'],
  ['PUT', '/projects/team/members/alice', { role: 'admin' }],
  ['DELETE', '/projects/team/members/alice'],
  ['POST', '/projects/team/robots', { name: 'evil', actions: ['pull', 'push', 'delete'] }],
  ['DELETE', '/projects/team/robots/ci'],
  ['POST', '/tokens', { scopes: ['repository:team/app:pull,push,delete'] }],
  ['GET', '/users'],
  ['GET', '/users/alice'],
  ['GET', '/projects/team/robots'],
];

for (const mode of authModes) {
  test(`auth mode ${mode}: anonymous callers change no account`, async (t) => {
    const srv = await startWharfFor(t, { config: { auth: { mode } }, env: adminEnv });
    const url = srv.url;
    await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
    await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: ALICE.username, password: ALICE.password } });
    await apiOk(url, 'PUT', '/projects/team/members/alice', { auth: ADMIN, body: { role: 'developer' } });
    await apiOk(url, 'POST', '/projects/team/robots', { auth: ADMIN, body: { name: 'ci', actions: ['pull'] } });

    const snapshot = async () => ({
      users: await apiOk(url, 'GET', '/users', { auth: ADMIN }),
      project: await apiOk(url, 'GET', '/projects/team', { auth: ADMIN }),
      members: await apiOk(url, 'GET', '/projects/team/members', { auth: ADMIN }),
      robots: await apiOk(url, 'GET', '/projects/team/robots', { auth: ADMIN }),
      projects: await apiOk(url, 'GET', '/projects', { auth: ADMIN }),
    });
    const before = await snapshot();

    // No credentials, empty Basic credentials (what logged-out clients send), and in token mode an anonymous token.
    const callers: Array<[string, Record<string, string>]> = [['no credentials', {}], ['empty Basic credentials', { authorization: 'Basic Og==' }]];
    if (mode === 'token') {
      const anonymousToken = (await get(`${url}/token?service=wharf&scope=repository:team/app:pull`)).json<{ token: string }>().token;
      callers.push(['an anonymous token', { authorization: `Bearer ${anonymousToken}` }]);
    }
    for (const [who, headers] of callers) {
      for (const [method, path, body] of routes) {
        const res = await api(url, method, path, { headers, ...(body !== undefined ? { body } : {}) });
        assertError(res, 401, 'UNAUTHORIZED', `${method} ${path} with ${who}`);
      }
    }

    assert.deepEqual(await snapshot(), before, 'nothing changed');
    await apiOk(url, 'GET', '/users/alice', { auth: ALICE });
    await apiOk(url, 'GET', `/users/${ADMIN.username}`, { auth: ADMIN });

    // The rule holds for signed-in callers too: only admins manage accounts, in every mode.
    assertError(await api(url, 'POST', '/users', { auth: ALICE, body: { name: 'mallory', password: 'mallory-password', admin: true } }), 403, 'DENIED');
    assertError(await api(url, 'PATCH', '/users/alice', { auth: ALICE, body: { admin: true } }), 403, 'DENIED');
    await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: 'carol', password: 'carol-password' } });
  });
}

test('auth mode none: images stay open to anonymous callers; the console is told to offer sign-in', async (t) => {
  const srv = await startWharfFor(t, { env: adminEnv });
  const image = ociImage();
  await pushImage(srv.url, 'open/app', 'v1', image);
  const pulled = await get(`${srv.url}/v2/open/app/manifests/v1`, { headers: { accept: image.manifest.mediaType } });
  assert.equal(pulled.status, 200);
  const session = (await api(srv.url, 'GET', '/session')).json<{ user: unknown; authMode: string }>();
  assert.deepEqual(session, { user: null, csrfToken: null, authMode: 'none' });
  const admin = (await api(srv.url, 'GET', '/session', { auth: ADMIN })).json<{ user: { name: string; admin: boolean } }>();
  assert.equal(admin.user.name, ADMIN.username);
  assert.equal(admin.user.admin, true);
});
