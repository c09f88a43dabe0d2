/**
 * Token mode: the challenge, /token (GET and the OAuth2 POST form), scope intersection, refused
 * tokens (forged, expired, wrongly signed, wrong audience, over-scoped), robots, the audit log,
 * console sessions with CSRF, brute force (the 11th wrong password is a 429), and two instances
 * sharing one database.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { get, post, pushImage, pushManifest, request } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { freshDatabase, postgresSkipReason } from '../fixtures/postgres.js';
import { startWharfFor } from '../fixtures/server.js';
import { ADMIN, adminEnv, api, apiOk, type Creds } from './auth-support.js';
import { assertError } from './support.js';

interface TokenReply {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}
type Access = Array<{ type: string; name: string; actions: string[] }>;

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { access: Access; sub: string; aud: string; iss: string; exp: number };

async function tokenFor(url: string, who: Creds | undefined, scopes: string[]): Promise<string> {
  const query = new URLSearchParams({ service: 'wharf' });
  for (const s of scopes) query.append('scope', s);
  const res = await get(`${url}/token?${query}`, who ? { auth: who } : {});
  assert.equal(res.status, 200, res.text());
  return res.json<TokenReply>().token;
}

function sign(key: KeyObject, claims: Record<string, unknown>, overrides: { aud?: string; iss?: string; exp?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(overrides.iss ?? 'wharf')
    .setAudience(overrides.aud ?? 'wharf')
    .setSubject(String(claims.sub ?? ''))
    .setIssuedAt(now - 10)
    .setExpirationTime(overrides.exp ?? now + 300)
    .sign(key);
}

test('token mode', async (t) => {
  const dir = await makeTempDir('wharf-auth-token-');
  t.after(() => removeDir(dir));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(dir, 'token-key.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const srv = await startWharfFor(t, { config: { auth: { mode: 'token', token: { signingKey: keyFile } } }, env: adminEnv });
  const url = srv.url;

  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  const dev = { username: 'dev', password: 'dev-password-1' };
  const guest = { username: 'guest', password: 'guest-password-1' };
  for (const [user, role] of [[dev, 'developer'], [guest, 'guest']] as const) {
    await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: user.username, password: user.password } });
    await apiOk(url, 'PUT', `/projects/team/members/${user.username}`, { auth: ADMIN, body: { role } });
  }
  const image = ociImage();

  await t.test('401 challenges name the token realm, service and scope', async () => {
    const base = await get(`${url}/v2/`);
    assertError(base, 401, 'UNAUTHORIZED');
    assert.equal(base.headers['www-authenticate'], `Bearer realm="${url}/token",service="wharf"`);
    const repo = await get(`${url}/v2/team/app/manifests/v1`);
    assertError(repo, 401, 'UNAUTHORIZED');
    assert.equal(repo.headers['www-authenticate'], `Bearer realm="${url}/token",service="wharf",scope="repository:team/app:pull"`);
    assertError(await get(`${url}/v2/`, { headers: { authorization: 'Basic Og==' } }), 401, 'UNAUTHORIZED', 'empty basic');
  });

  await t.test('anonymous tokens open /v2/ but not a private project', async () => {
    const token = await tokenFor(url, undefined, ['repository:team/app:pull']);
    assert.deepEqual(claimsOf(token).access, [{ type: 'repository', name: 'team/app', actions: [] }]);
    assert.equal((await get(`${url}/v2/`, { bearer: token })).status, 200);
    assertError(await get(`${url}/v2/team/app/tags/list`, { bearer: token }), 401, 'UNAUTHORIZED');
  });

  await t.test('the endpoint grants the intersection of the scopes and the role', async () => {
    const token = await tokenFor(url, dev, ['repository:team/app:pull,push,delete', 'repository:other/app:pull', 'registry:catalog:*', 'bogus:x:y']);
    const claims = claimsOf(token);
    assert.equal(claims.sub, 'dev');
    assert.equal(claims.aud, 'wharf');
    assert.deepEqual(claims.access, [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'other/app', actions: [] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    await pushImage(url, 'team/app', 'v1', image, { bearer: token });
    assertError(await request('DELETE', `${url}/v2/team/app/manifests/${image.manifest.digest}`, { bearer: token }), 403, 'DENIED', 'developer delete');
    const catalog = await get(`${url}/v2/_catalog`, { bearer: token });
    assert.deepEqual(catalog.json<{ repositories: string[] }>().repositories, ['team/app']);
  });

  await t.test('a token without the scope: 401 with the scope when the account may, 403 when not', async () => {
    const pullOnly = await tokenFor(url, dev, ['repository:team/app:pull']);
    const res = await pushManifest(url, 'team/app', 'v2', image.manifest, { bearer: pullOnly });
    assertError(res, 401, 'UNAUTHORIZED');
    assert.match(String(res.headers['www-authenticate']), /scope="repository:team\/app:pull,push"/);
    const guestToken = await tokenFor(url, guest, ['repository:team/app:pull,push']);
    assert.deepEqual(claimsOf(guestToken).access[0]!.actions, ['pull']);
    assertError(await pushManifest(url, 'team/app', 'v2', image.manifest, { bearer: guestToken }), 403, 'DENIED', 'guest push');
    const pulled = await get(`${url}/v2/team/app/manifests/v1`, { bearer: guestToken, headers: { accept: image.manifest.mediaType } });
    assert.equal(pulled.status, 200);
  });

  await t.test('forged, expired, wrongly signed and wrong-audience tokens are refused', async () => {
    const scope = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }];
    const good = await sign(privateKey, { sub: 'dev', access: scope });
    assert.equal((await get(`${url}/v2/team/app/tags/list`, { bearer: good })).status, 200, 'a token signed with the configured key works');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const parts = good.split('.');
    const adminClaims = Buffer.from(JSON.stringify({ ...claimsOf(good), sub: 'root' })).toString('base64url');
    const cases: Record<string, string> = {
      'wrong signature': await sign(other, { sub: 'dev', access: scope }),
      expired: await sign(privateKey, { sub: 'dev', access: scope }, { exp: Math.floor(Date.now() / 1000) - 600 }),
      'wrong audience': await sign(privateKey, { sub: 'dev', access: scope }, { aud: 'someone-else' }),
      'wrong issuer': await sign(privateKey, { sub: 'dev', access: scope }, { iss: 'evil' }),
      'tampered claims': `${parts[0]}.${adminClaims}.${parts[2]}`,
      'alg none': `${Buffer.from('{"alg":"none"}').toString('base64url')}.${parts[1]}.`,
      garbage: 'not-a-token',
    };
    for (const [what, token] of Object.entries(cases)) {
      assertError(await get(`${url}/v2/team/app/tags/list`, { bearer: token }), 401, 'UNAUTHORIZED', what);
      assertError(await get(`${url}/v2/`, { bearer: token }), 401, 'UNAUTHORIZED', `${what} on /v2/`);
    }
    // Over-scoped: a validly signed token for an account that lost the right gets 403, not access.
    const overScoped = await sign(privateKey, { sub: 'guest', access: scope });
    assertError(await pushManifest(url, 'team/app', 'v3', image.manifest, { bearer: overScoped }), 403, 'DENIED', 'over-scoped token');
  });

  await t.test('OAuth2 POST: password and refresh_token grants; a new password voids refresh tokens', async () => {
    const form = (fields: Record<string, string>) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    const first = await post(`${url}/token`, form({ grant_type: 'password', username: dev.username, password: dev.password, service: 'wharf', scope: 'repository:team/app:pull', client_id: 'test' }));
    assert.equal(first.status, 200, first.text());
    const reply = first.json<TokenReply>();
    assert.ok(reply.refresh_token);
    assert.deepEqual(claimsOf(reply.access_token).access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const refreshed = await post(`${url}/token`, form({ grant_type: 'refresh_token', refresh_token: reply.refresh_token!, service: 'wharf', scope: 'repository:team/app:push' }));
    assert.equal(refreshed.status, 200, refreshed.text());
    assert.deepEqual(claimsOf(refreshed.json<TokenReply>().access_token).access[0]!.actions, ['push']);
    assertError(await post(`${url}/token`, form({ grant_type: 'password', username: dev.username, password: 'wrong' })), 401, 'UNAUTHORIZED');
    assertError(await post(`${url}/token`, form({ grant_type: 'client_credentials' })), 400, 'INVALID_REQUEST');
    await new Promise((r) => setTimeout(r, 1100)); // the refresh token's iat has second precision
    await apiOk(url, 'PUT', '/users/dev/password', { auth: ADMIN, body: { password: 'dev-password-2' } });
    assertError(await post(`${url}/token`, form({ grant_type: 'refresh_token', refresh_token: reply.refresh_token! })), 401, 'UNAUTHORIZED', 'refresh after password change');
    dev.password = 'dev-password-2';
  });

  await t.test('robots: scoped, usable with tokens, revocable, expiring', async () => {
    const created = await apiOk<{ robot: { name: string; actions: string[] }; secret: string }>(url, 'POST', '/projects/team/robots', { auth: ADMIN, body: { name: 'reader', actions: ['pull'] } });
    const robot = { username: created.robot.name, password: created.secret };
    const listed = await apiOk<{ robots: Array<Record<string, unknown>> }>(url, 'GET', '/projects/team/robots', { auth: ADMIN });
    assert.ok(listed.robots.every((r) => !('secret' in r) && !('secretHash' in r)), 'the secret is never listed');
    const token = await tokenFor(url, robot, ['repository:team/app:pull,push', 'repository:elsewhere/app:pull']);
    assert.deepEqual(claimsOf(token).access.map((a) => a.actions), [['pull'], []]);
    assert.equal((await get(`${url}/v2/team/app/tags/list`, { bearer: token })).status, 200);
    assertError(await pushManifest(url, 'team/app', 'robot', image.manifest, { bearer: token }), 403, 'DENIED', 'pull-only robot push');
    await apiOk(url, 'DELETE', `/projects/team/robots/${encodeURIComponent(robot.username)}`, { auth: ADMIN });
    assertError(await get(`${url}/v2/team/app/tags/list`, { bearer: token }), 401, 'UNAUTHORIZED', 'token of a revoked robot');
    assertError(await get(`${url}/token?service=wharf`, { auth: robot }), 401, 'UNAUTHORIZED', 'login of a revoked robot');
    const shortLived = await apiOk<{ robot: { expiresAt: string } }>(url, 'POST', '/projects/team/robots', { auth: ADMIN, body: { name: 'brief', actions: ['pull'], expiresInSeconds: 3600 } });
    assert.ok(Date.parse(shortLived.robot.expiresAt) > Date.now());
    assertError(await api(url, 'POST', '/projects/team/robots', { auth: ADMIN, body: { name: 'past', actions: ['pull'], expiresAt: '2000-01-01T00:00:00Z' } }), 400, 'INVALID_REQUEST');
  });

  await t.test('the audit log records pushes, pulls, denials and permission changes, with filters and paging', async () => {
    const all = await apiOk<{ total: number; events: Array<{ actor: string; action: string; repository: string | null; reference: string | null; result: string; source: string }> }>(
      url, 'GET', '/audit?actor=dev&action=push', { auth: ADMIN },
    );
    const push = all.events.find((e) => e.reference === 'v1' && e.result === 'success');
    assert.ok(push, JSON.stringify(all.events));
    assert.equal(push.repository, 'team/app');
    assert.equal(push.source, '127.0.0.1');
    const denied = await apiOk<{ events: Array<{ actor: string; result: string }> }>(url, 'GET', '/audit?action=push&project=team', { auth: ADMIN });
    assert.ok(denied.events.some((e) => e.actor === 'guest' && e.result === 'denied'));
    const pulls = await apiOk<{ events: Array<{ actor: string }> }>(url, 'GET', '/audit?action=pull&repository=team/app', { auth: ADMIN });
    assert.ok(pulls.events.some((e) => e.actor === 'guest'));
    const changes = await apiOk<{ events: Array<{ action: string }> }>(url, 'GET', '/audit?action=member.set,robot.create,robot.revoke,user.password', { auth: ADMIN });
    assert.deepEqual(new Set(changes.events.map((e) => e.action)), new Set(['member.set', 'robot.create', 'robot.revoke', 'user.password']));
    const page = await apiOk<{ total: number; events: unknown[] }>(url, 'GET', '/audit?limit=2&offset=1', { auth: ADMIN });
    assert.equal(page.events.length, 2);
    assert.ok(page.total > 3);
    const future = await apiOk<{ total: number }>(url, 'GET', `/audit?since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`, { auth: ADMIN });
    assert.equal(future.total, 0);
    assertError(await api(url, 'GET', '/audit', { auth: dev }), 403, 'DENIED', 'developer reads the whole log');
  });

  await t.test('console session: HttpOnly cookie, CSRF header on changes, logout', async () => {
    const login = await api(url, 'POST', '/session', { body: { username: ADMIN.username, password: ADMIN.password } });
    assert.equal(login.status, 200, login.text());
    const cookies = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
    const session = cookies.find((c) => c.startsWith('wharf_session='))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Strict/);
    const { csrfToken, user } = login.json<{ csrfToken: string; user: { name: string; admin: boolean } }>();
    assert.deepEqual([user.name, user.admin], [ADMIN.username, true]);
    assert.ok(cookies.some((c) => c.startsWith(`wharf_csrf=${csrfToken};`)));
    const cookie = session.split(';')[0]!;
    assert.equal((await api(url, 'GET', '/session', { headers: { cookie } })).json<{ csrfToken: string }>().csrfToken, csrfToken);
    assertError(await api(url, 'POST', '/projects', { headers: { cookie }, body: { name: 'viacookie' } }), 403, 'DENIED', 'no CSRF header');
    assertError(await api(url, 'POST', '/projects', { headers: { cookie, 'x-csrf-token': 'wrong' }, body: { name: 'viacookie' } }), 403, 'DENIED', 'wrong CSRF header');
    assert.equal((await api(url, 'POST', '/projects', { headers: { cookie, 'x-csrf-token': csrfToken }, body: { name: 'viacookie' } })).status, 201);
    assert.equal((await api(url, 'DELETE', '/session', { headers: { cookie, 'x-csrf-token': csrfToken } })).status, 204);
    assertError(await api(url, 'GET', '/session', { headers: { cookie } }), 401, 'UNAUTHORIZED', 'after logout');
    assertError(await api(url, 'POST', '/session', { body: { username: ADMIN.username, password: 'nope' } }), 401, 'UNAUTHORIZED', 'wrong password');
    const openapi = await api(url, 'GET', '/openapi.json');
    const doc = openapi.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/api/v1/session', '/api/v1/users', '/api/v1/projects/{project}/members/{username}', '/api/v1/projects/{project}/robots', '/api/v1/audit', '/api/v1/tokens']) {
      assert.ok(doc.paths[p], `openapi lists ${p}`);
    }
  });

});

test('brute force: the 11th wrong password in the window is a 429, audited', async (t) => {
  const srv = await startWharfFor(t, { config: { auth: { mode: 'token' } }, env: adminEnv });
  const url = srv.url;
  await apiOk(url, 'POST', '/users', { auth: ADMIN, body: { name: 'victim', password: 'victim-password' } });
  // Taken before the lockout: bearer tokens are not logins.
  const token = await tokenFor(url, ADMIN, []);
  for (let i = 1; i <= 10; i++) {
    assertError(await get(`${url}/token?service=wharf`, { auth: { username: 'victim', password: `guess-${i}` } }), 401, 'UNAUTHORIZED', `attempt ${i}`);
  }
  const eleventh = await get(`${url}/token?service=wharf`, { auth: { username: 'victim', password: 'guess-11' } });
  assertError(eleventh, 429, 'TOOMANYREQUESTS', '11th attempt');
  const retryAfter = Number(eleventh.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assertError(await get(`${url}/token?service=wharf`, { auth: { username: 'victim', password: 'victim-password' } }), 429, 'TOOMANYREQUESTS', 'even the right password, in the window');
  // Basic logins from 127.0.0.1 are locked out now: read the log with a bearer token.
  const audit = (await request('GET', `${url}/api/v1/audit?actor=victim&action=login`, { bearer: token })).json<{ events: Array<{ result: string; source: string }> }>();
  assert.equal(audit.events.filter((e) => e.result === 'failure').length, 10);
  assert.ok(audit.events.some((e) => e.result === 'rate-limited' && e.source === '127.0.0.1'));
  assert.ok(!srv.logs().includes('guess-'), 'no password in the logs');
});

test('a token from one instance works on another sharing the database', async (t) => {
  const first = await startWharfFor(t, { config: { auth: { mode: 'token' } }, env: adminEnv });
  const second = await startWharfFor(t, { config: { auth: { mode: 'token' } }, dataDir: first.dataDir });
  const token = await tokenFor(first.url, ADMIN, ['repository:shared/app:pull,push']);
  const image = ociImage();
  await pushImage(second.url, 'shared/app', 'v1', image, { bearer: token });
  const pulled = await get(`${first.url}/v2/shared/app/manifests/v1`, { bearer: token, headers: { accept: image.manifest.mediaType } });
  assert.equal(pulled.status, 200);
  // The session made on one is known to the other.
  const login = await api(second.url, 'POST', '/session', { body: ADMIN });
  const cookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []).find((c) => c.startsWith('wharf_session='))!.split(';')[0]!;
  assert.equal((await api(first.url, 'GET', '/session', { headers: { cookie } })).status, 200);
  // Login failures count across instances.
  for (let i = 0; i < 5; i++) await get(`${first.url}/token?service=wharf`, { auth: { username: 'nobody', password: 'x' } });
  for (let i = 0; i < 5; i++) await get(`${second.url}/token?service=wharf`, { auth: { username: 'nobody', password: 'x' } });
  assertError(await get(`${first.url}/token?service=wharf`, { auth: { username: 'nobody', password: 'x' } }), 429, 'TOOMANYREQUESTS', 'shared counters');
});

test('two instances on PostgreSQL share the signing key, sessions and login counters', { skip: postgresSkipReason() }, async (t) => {
  const db = await freshDatabase(t);
  const config = { auth: { mode: 'token' }, database: { driver: 'postgres', postgres: { url: db.url } }, storage: { driver: 'filesystem' } };
  const first = await startWharfFor(t, { config, env: adminEnv });
  // Same database, same blob directory, different processes.
  const second = await startWharfFor(t, { config: [config, { storage: { filesystem: { rootDirectory: path.join(first.dataDir, 'storage') } } }] });
  const token = await tokenFor(first.url, ADMIN, ['repository:shared/app:pull,push']);
  const image = ociImage();
  await pushImage(second.url, 'shared/app', 'v1', image, { bearer: token });
  assert.equal((await get(`${first.url}/v2/shared/app/manifests/v1`, { bearer: token, headers: { accept: image.manifest.mediaType } })).status, 200);
  for (let i = 0; i < 5; i++) await get(`${first.url}/token?service=wharf`, { auth: { username: 'nobody', password: 'x' } });
  for (let i = 0; i < 5; i++) await get(`${second.url}/token?service=wharf`, { auth: { username: 'nobody', password: 'x' } });
  assertError(await get(`${second.url}/token?service=wharf`, { auth: { username: 'nobody', password: 'x' } }), 429, 'TOOMANYREQUESTS', 'shared counters');
  const audit = (await request('GET', `${second.url}/api/v1/audit?actor=nobody`, { bearer: await tokenFor(first.url, undefined, []) })).status;
  assert.equal(audit, 401, 'an anonymous token does not read the audit log');
});
