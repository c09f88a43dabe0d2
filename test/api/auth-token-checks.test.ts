/**
 * What /token refuses and what a token must carry: scopes naming no valid repository are granted
 * nothing, a `service` other than Wharf's is refused, and a token without `exp`, without `iat`,
 * issued in the future or older than the configured lifetime does not open /v2.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { get, post } from '../fixtures/http.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor } from '../fixtures/server.js';
import { ADMIN, adminEnv, apiOk } from './auth-support.js';
import { assertError } from './support.js';

type Access = Array<{ type: string; name: string; actions: string[] }>;
const accessOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { access: Access }).access;

interface Claims {
  iat?: number;
  nbf?: number;
  exp?: number;
}

/** A token signed with Wharf's key, with exactly the time claims given. */
function sign(key: KeyObject, times: Claims, refresh = false): Promise<string> {
  const builder = new SignJWT({ ...(refresh ? {} : { access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] }) })
    .setProtectedHeader({ alg: 'ES256', typ: refresh ? 'wharf-refresh' : 'JWT' })
    .setIssuer('wharf')
    .setAudience('wharf')
    .setSubject('root');
  if (times.iat !== undefined) builder.setIssuedAt(times.iat);
  if (times.nbf !== undefined) builder.setNotBefore(times.nbf);
  if (times.exp !== undefined) builder.setExpirationTime(times.exp);
  return builder.sign(key);
}

test('token endpoint and token checks', async (t) => {
  const dir = await makeTempDir('wharf-token-checks-');
  t.after(() => removeDir(dir));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(dir, 'token-key.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const srv = await startWharfFor(t, { config: { auth: { mode: 'token', token: { signingKey: keyFile, expirySeconds: 300 } } }, env: adminEnv });
  const url = srv.url;
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'team' } });
  await apiOk(url, 'POST', '/projects', { auth: ADMIN, body: { name: 'proja' } });

  await t.test('scopes whose name is not a valid repository name are granted nothing', async () => {
    const query = new URLSearchParams({ service: 'wharf' });
    const invalid = ['proja/../projb/secret', 'proja/./x', 'proja//x', 'Proja/App', '/proja/x', 'proja/x/', 'proja/%2e%2e/x', 'a'.repeat(256)];
    for (const name of invalid) query.append('scope', `repository:${name}:pull,push`);
    query.append('scope', 'repository:proja/app:pull');
    const res = await get(`${url}/token?${query}`, { auth: ADMIN });
    assert.equal(res.status, 200, res.text());
    assert.deepEqual(accessOf(res.json<{ token: string }>().token), [{ type: 'repository', name: 'proja/app', actions: ['pull'] }]);
  });

  await t.test('a service other than Wharf is refused; none at all is fine', async () => {
    assertError(await get(`${url}/token?service=registry.docker.io&scope=repository:team/app:pull`, { auth: ADMIN }), 400, 'INVALID_REQUEST', 'GET');
    const form = new URLSearchParams({ grant_type: 'password', username: ADMIN.username, password: ADMIN.password, service: 'evil', scope: 'repository:team/app:pull' });
    const posted = await post(`${url}/token`, { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assertError(posted, 400, 'INVALID_REQUEST', 'POST');
    assert.equal((await get(`${url}/token?scope=repository:team/app:pull`, { auth: ADMIN })).status, 200, 'no service');
    assert.equal((await get(`${url}/token?service=wharf&scope=repository:team/app:pull`, { auth: ADMIN })).status, 200, 'our service');
  });

  await t.test('tokens without exp or iat, from the future, or older than their lifetime are refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = await sign(privateKey, { iat: now - 10, exp: now + 300 });
    assert.equal((await get(`${url}/v2/team/app/tags/list`, { bearer: good })).status, 404, 'a sound token opens the repository (it has no tags yet)');
    const cases: Record<string, Claims> = {
      'no exp': { iat: now - 10 },
      'no exp, no iat': {},
      'no iat': { exp: now + 300 },
      'issued in the future': { iat: now + 3600, exp: now + 3900 },
      'not yet valid': { iat: now - 10, nbf: now + 3600, exp: now + 3900 },
      'older than the lifetime, exp far ahead': { iat: now - 86_400, exp: now + 86_400 },
    };
    for (const [what, times] of Object.entries(cases)) {
      assertError(await get(`${url}/v2/team/app/tags/list`, { bearer: await sign(privateKey, times) }), 401, 'UNAUTHORIZED', what);
    }
  });

  await t.test('a refresh token without exp is refused', async () => {
    // Issued now: the account's password predates it, so only the missing exp can refuse it.
    const now = Math.floor(Date.now() / 1000);
    const exchange = async (refresh: string) =>
      post(`${url}/token`, {
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, service: 'wharf' }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    const sound = await exchange(await sign(privateKey, { iat: now, exp: now + 3600 }, true));
    assert.equal(sound.status, 200, `a refresh token with exp works: ${sound.text()}`);
    assertError(await exchange(await sign(privateKey, { iat: now }, true)), 401, 'UNAUTHORIZED');
  });
});
