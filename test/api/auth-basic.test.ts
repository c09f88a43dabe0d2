/**
 * Basic mode as Distribution does it (an htpasswd file of bcrypt entries) beside database users
 * made with the CLI (`wharf user add` reading the password from stdin).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import YAML from 'yaml';
import { get, post, pushImage } from '../fixtures/http.js';
import { ociImage } from '../fixtures/images.js';
import { runWharf } from '../fixtures/cli.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharfFor, testDatabaseConfig } from '../fixtures/server.js';
import { assertError } from './support.js';

const wharf = (args: string[], input = '') => runWharf(args, { input });

test('basic mode with an htpasswd file and CLI-made users', async (t) => {
  const dir = await makeTempDir('wharf-auth-basic-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');
  const htpasswd = path.join(dir, 'htpasswd');
  // As `htpasswd -B` writes it ($2y$), plus an entry of another hash type that must be ignored.
  const hash = bcrypt.hashSync('hal-password', 5).replace(/^\$2b\$/, '$2y$');
  await writeFile(htpasswd, `# users\nhal:${hash}\nmd5user:$apr1$abcdefgh$0123456789abcdefghijkl\n`);
  // The CLI and the server must open the same database (PostgreSQL in the s3 pass).
  const config = { dataDirectory: dataDir, auth: { mode: 'basic', htpasswd, realm: 'Wharf Registry' }, ...(await testDatabaseConfig(dataDir)) };
  const configPath = path.join(dir, 'config.yml');
  await writeFile(configPath, YAML.stringify(config));

  const added = await wharf(['user', 'add', 'alice', '--admin', '--config', configPath], 'alice-password\n');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /user alice created \(system admin\)/);
  assert.ok(!added.stdout.includes('alice-password') && !added.stderr.includes('alice-password'));
  const short = await wharf(['user', 'add', 'bob', '--config', configPath], 'short\n');
  assert.equal(short.code, 1);
  assert.match(short.stderr, /at least 8 characters/);
  const again = await wharf(['user', 'add', 'alice', '--config', configPath], 'another-password\n');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists/);
  assert.equal((await wharf(['project', 'create', 'team', '--config', configPath])).code, 0);
  const member = await wharf(['project', 'member', 'add', 'team', 'hal', 'developer', '--config', configPath]);
  assert.equal(member.code, 0, member.stderr);
  const list = await wharf(['user', 'list', '--json', '--config', configPath]);
  assert.deepEqual(JSON.parse(list.stdout).map((u: { name: string; admin: boolean }) => [u.name, u.admin]), [['alice', true]]);

  const srv = await startWharfFor(t, { config, dataDir });
  const url = srv.url;
  const base = await get(`${url}/v2/`);
  assertError(base, 401, 'UNAUTHORIZED');
  assert.equal(base.headers['www-authenticate'], 'Basic realm="Wharf Registry"');
  assertError(await get(`${url}/v2/`, { headers: { authorization: 'Basic Og==' } }), 401, 'UNAUTHORIZED', 'empty credentials');
  assertError(await get(`${url}/v2/`, { auth: { username: 'hal', password: 'wrong' } }), 401, 'UNAUTHORIZED', 'wrong password');
  assertError(await get(`${url}/v2/`, { auth: { username: 'md5user', password: 'x' } }), 401, 'UNAUTHORIZED', 'non-bcrypt entry');
  assert.equal((await get(`${url}/v2/`, { auth: { username: 'alice', password: 'alice-password' } })).status, 200);
  assert.equal((await get(`${url}/v2/`, { auth: { username: 'hal', password: 'hal-password' } })).status, 200);

  const hal = { username: 'hal', password: 'hal-password' };
  const image = ociImage();
  await pushImage(url, 'team/app', 'v1', image, { auth: hal });
  const pulled = await get(`${url}/v2/team/app/manifests/v1`, { auth: hal, headers: { accept: image.manifest.mediaType } });
  assert.equal(pulled.status, 200);
  assert.equal(pulled.headers['docker-content-digest'], image.manifest.digest);
  assertError(await post(`${url}/v2/elsewhere/app/blobs/uploads/`, { auth: hal }), 403, 'DENIED', 'push to a non-member project');
  assertError(await get(`${url}/v2/team/app/tags/list`, { auth: { username: 'md5user', password: 'x' } }), 401, 'UNAUTHORIZED', 'pull with bad credentials');
});
