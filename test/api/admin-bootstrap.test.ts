/**
 * WHARF_ADMIN_USER / WHARF_ADMIN_PASSWORD never silently accept an existing account: a matching
 * admin is a quiet no-op; an account with another password, or not an admin, stops `serve` with
 * exit code 3 and the command that resolves it (also in a cluster, reported once). Includes the
 * attack of issue 11: an account planted while the registry was open, then a switch to `token` mode.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { exitCodes } from '../../src/cli/config-commands.js';
import { runPrinted, runWharf, type WharfRun } from '../fixtures/cli.js';
import { get } from '../fixtures/http.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf, startWharfFor } from '../fixtures/server.js';
import { logLines } from './ops-support.js';
import { api } from './auth-support.js';

const OPERATOR = 'operator-password-1';
const ATTACKER = 'attacker-password-1';
const tokenMode = { auth: { mode: 'token' } };

/** `wharf serve` over `dataDir` with the bootstrap variables, expected to exit by itself. */
const serve = (dataDir: string, env: Record<string, string>) =>
  runWharf(['serve', '--data', dataDir, '--address', '127.0.0.1', '--port', '0'], { env: { ...process.env, WHARF_AUTH_MODE: 'token', ...env }, timeoutMs: 60_000 });

/** The line of `serve`'s refusal that carries a `wharf user` command, from that command on. */
function printedCommand(result: WharfRun, marker: string): string {
  const line = result.stderr.split('\n').find((l) => l.includes(marker));
  assert.ok(line, `stderr names "${marker}":\n${result.stderr}`);
  return line.slice(line.indexOf(': ', line.indexOf('wharf: ') + 7) + 2);
}

const tokenFor = async (url: string, user: string, password: string) =>
  (await get(`${url}/token?service=wharf`, { auth: { username: user, password } })).status;

test('a matching admin account: created once, then a quiet no-op', async (t) => {
  const dir = await makeTempDir('wharf-bootstrap-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');
  const env = { WHARF_ADMIN_USER: 'admin', WHARF_ADMIN_PASSWORD: OPERATOR };
  const first = await startWharf({ config: tokenMode, dataDir, env });
  assert.ok(logLines(first.logs()).some((l) => l.msg === 'first administrator created from WHARF_ADMIN_USER' && l.user === 'admin'));
  await first.stop();

  const again = await startWharfFor(t, { config: tokenMode, dataDir, env });
  assert.equal(await tokenFor(again.url, 'admin', OPERATOR), 200);
  const loud = logLines(again.logs()).filter((l) => l.level !== 'info' && l.level !== 'debug');
  assert.deepEqual(loud, [], 'no warnings or errors');
  assert.ok(!again.logs().includes('first administrator created'));
});

test('the issue 11 attack: an admin planted while open does not survive the switch to token mode', async (t) => {
  const dir = await makeTempDir('wharf-bootstrap-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');

  // 1. The registry is open (auth.mode none); an anonymous caller tries to create `admin`.
  const open = await startWharf({ dataDir });
  const planted = await api(open.url, 'POST', '/users', { body: { name: 'admin', password: ATTACKER, admin: true } });
  assert.equal(planted.status, 401, 'anonymous callers create no account');
  await open.stop();
  const users = await runWharf(['user', 'list', '--json', '--data', dataDir]);
  assert.deepEqual(JSON.parse(users.stdout), []);

  // 2. A database from before the fix (or a careless script) holds such an account anyway.
  assert.equal((await runWharf(['user', 'add', 'admin', '--admin', '--data', dataDir], { input: `${ATTACKER}\n` })).code, 0);

  // 3. The operator switches to token mode and names `admin` with their own password: refused.
  const env = { WHARF_ADMIN_USER: 'admin', WHARF_ADMIN_PASSWORD: OPERATOR };
  const refused = await serve(dataDir, env);
  assert.equal(refused.code, exitCodes.adminConflict, refused.stderr);
  assert.match(refused.stderr, /WHARF_ADMIN_USER names the existing account "admin", but WHARF_ADMIN_PASSWORD is not its password/);
  assert.ok(logLines(refused.stdout).some((l) => l.level === 'fatal' && l.user === 'admin' && l.wrongPassword === true));
  assert.match(refused.stderr, /wharf user list --data /);

  // 4. The printed command, run as printed, gives the account the operator's password.
  const command = printedCommand(refused, 'wharf user passwd admin');
  assert.equal(command, `printf '%s\\n' "$WHARF_ADMIN_PASSWORD" | wharf user passwd admin --data ${dataDir}`);
  assert.equal(await runPrinted(command, env), 0);

  const srv = await startWharfFor(t, { config: tokenMode, dataDir, env });
  assert.equal(await tokenFor(srv.url, 'admin', OPERATOR), 200);
  assert.equal(await tokenFor(srv.url, 'admin', ATTACKER), 401, "the attacker's password is void");
});

test('an existing account that is not an admin: refused until made one; a cluster reports it once', async (t) => {
  const dir = await makeTempDir('wharf-bootstrap-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');
  assert.equal((await runWharf(['user', 'add', 'bob', '--data', dataDir], { input: `${OPERATOR}\n` })).code, 0);
  const env = { WHARF_ADMIN_USER: 'bob', WHARF_ADMIN_PASSWORD: OPERATOR };

  const clustered = await serve(dataDir, { ...env, WHARF_HTTP_WORKERS: '2' });
  assert.equal(clustered.code, exitCodes.adminConflict, clustered.stderr);
  assert.equal(clustered.stderr.match(/cannot start/g)?.length, 1, clustered.stderr);

  const refused = await serve(dataDir, env);
  assert.equal(refused.code, exitCodes.adminConflict);
  assert.match(refused.stderr, /"bob", but it is not a system administrator/);
  assert.ok(!refused.stderr.includes('passwd'), 'the password matches: nothing to say about it');
  assert.equal(await runPrinted(printedCommand(refused, 'wharf user make-admin bob'), env), 0);

  const srv = await startWharfFor(t, { config: tokenMode, dataDir, env });
  const whoami = await api(srv.url, 'GET', '/users/bob', { auth: { username: 'bob', password: OPERATOR } });
  assert.equal(whoami.json<{ admin: boolean }>().admin, true);
});
